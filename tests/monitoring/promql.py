"""Collect PromQL from the runbooks, rules and dashboards, and run it on Prometheus.

The rule every query is held to (docs/runbook.md, "How the queries are
tested"): it must parse, and it must return at least one series on the
local stack after the analyst's workflow. A query that returns nothing
passes only when it filters by value or looks back in time, and its
relaxed form returns series. The relaxed form adds `bool` after every
comparison operator, so `x > 0.6` returns 0 or 1 for every series of `x`
instead of dropping those below the threshold, and removes every
`offset`, since a fresh Prometheus holds minutes of data, not a week.
"""

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from monitoring.codegen import scrape

COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
OFFSET = re.compile(r"\s+offset\s+-?\d+(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*")

# Grafana's built-in variables, replaced by what Grafana would send for a
# one-hour dashboard with a 15 s scrape interval.
GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}


# Extraction -----------------------------------------------------------------


def markdown_promql_blocks(text: str) -> list[str]:
    """Return the body of every ```promql block, stripped."""
    return [block.strip() for block in re.findall(r"```promql\n(.*?)```", text, re.S)]


def split_commented_block(block: str) -> list[str]:
    """Split a block of several queries, each under its own `# comment` line.

    Lines between two comments or blank lines form one query, so a query
    broken over two lines stays whole.
    """
    queries, current = [], []
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            if current:
                queries.append(" ".join(current))
            current = []
            continue
        current.append(stripped)
    if current:
        queries.append(" ".join(current))
    return queries


def split_promql_blocks(text: str) -> list[str]:
    """Return each query of every promql block, split at its comment lines."""
    return [
        query
        for block in markdown_promql_blocks(text)
        for query in split_commented_block(block)
    ]


def _walk_panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels", []))


def dashboard_variables(board: dict) -> dict[str, list[str]]:
    """Return each dashboard variable with the values to try for it."""
    values: dict[str, list[str]] = {}
    for variable in board.get("templating", {}).get("list", []):
        name = variable["name"]
        if variable.get("type") == "datasource":
            values[name] = ["prometheus"]
            continue
        options = [o["value"] for o in variable.get("options", []) if "value" in o]
        current = variable.get("current", {}).get("value")
        candidates = options or ([current] if current else [])
        if variable.get("includeAll"):
            candidates = [".*", *candidates]
        values[name] = [str(value) for value in candidates if value] or [".*"]
    return values


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Replace `$name`, `${name}` and `[[name]]` by the given values."""
    values = {**GRAFANA_VARIABLES, **variables}

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise KeyError(f"no value for dashboard variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", replace, expr)


@dataclass(frozen=True)
class DashboardQuery:
    where: str
    expr: str


def dashboard_queries(boards_dir: Path) -> list[DashboardQuery]:
    """Return every panel query, once for each value of the variables it uses."""
    queries = []
    for path in sorted(boards_dir.glob("*.json")):
        board = json.loads(path.read_text())
        variables = dashboard_variables(board)
        for panel in _walk_panels(board.get("panels", [])):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr:
                    continue
                where = f"{board['uid']}: {panel.get('title')}"
                used = [
                    name
                    for name in variables
                    if re.search(rf"\$\{{?{name}\b|\[\[{name}\]\]", expr)
                ]
                combos = [{}]
                for name in used:
                    combos = [
                        {**combo, name: value}
                        for combo in combos
                        for value in variables[name]
                    ]
                for combo in combos:
                    queries.append(DashboardQuery(where, substitute(expr, combo)))
    return queries


def rule_queries(rules_dir: Path) -> list[tuple[str, str]]:
    """Return (rule name, expression) for every recording and alerting rule."""
    queries = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                queries.append((rule.get("record") or rule["alert"], rule["expr"]))
    return queries


# The relaxed form -----------------------------------------------------------


def relax(expr: str) -> str:
    """Return the expression with comparisons made `bool` and offsets removed.

    Label matchers (`{status_code!="200"}`) and strings are left alone: only
    operators outside braces and quotes are changed.
    """
    out: list[str] = []
    depth = 0
    quote = ""
    i = 0
    while i < len(expr):
        char = expr[i]
        if quote:
            out.append(char)
            if char == "\\":
                out.append(expr[i + 1])
                i += 2
                continue
            if char == quote:
                quote = ""
            i += 1
            continue
        if char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif depth == 0:
            operator = next((op for op in COMPARISONS if expr.startswith(op, i)), None)
            if operator and not expr.startswith("=~", i):
                out.append(operator)
                i += len(operator)
                if not re.match(r"\s*bool\b", expr[i:]):
                    out.append(" bool")
                continue
        out.append(char)
        i += 1
    return OFFSET.sub("", "".join(out))


# Prometheus -----------------------------------------------------------------

# Scrape job and the name of its port in the stack's config.
JOB_PORT_NAMES = {
    "traefik": "traefik_metrics",
    "gateway": "gateway",
    "datasets": "datasets",
    "training": "training",
    "training-worker": "training_worker",
    "inference": "inference",
    "ai-analysis": "analysis",
}


def job_ports(stack_ports: dict[str, int]) -> dict[str, int]:
    """Map each scrape job but Prometheus itself to the stack's real port."""
    return {job: stack_ports[name] for job, name in JOB_PORT_NAMES.items()}


class Prometheus:
    """A Prometheus server started on a loopback port, and its HTTP API."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        port: int,
        job_ports: dict[str, int],
        rule_files: list[Path],
        interval: str = "1s",
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        config = scrape.local_config(
            ports={**job_ports, "prometheus": port},
            rule_files=[str(path) for path in rule_files],
        )
        config["global"] = {
            "scrape_interval": interval,
            "evaluation_interval": interval,
        }
        # Nothing listens there: alerts are read through the API instead.
        config.pop("alerting")
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Prometheus":
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("w"),
        )
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def get(self, path: str, **params: str) -> dict:
        url = f"{self.url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            return json.load(error)

    def query(self, expr: str) -> dict:
        return self.get("/api/v1/query", query=expr)

    def series(self, expr: str) -> list[dict]:
        """Return the result of an instant query; raise if it does not parse."""
        answer = self.query(expr)
        if answer.get("status") != "success":
            raise PromQLError(f"{answer.get('errorType')}: {answer.get('error')}")
        result = answer["data"]["result"]
        if answer["data"]["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return result

    def wait_until(self, expr: str, timeout_seconds: float) -> list[dict]:
        """Poll until the query returns series, and return them."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with {self.process.returncode}:\n"
                    + self.log_tail()
                )
            try:
                found = self.series(expr)
            except OSError:
                found = []
            if found:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expr} returned nothing for {timeout_seconds} s")
            time.sleep(0.5)

    def check(self, expr: str) -> str | None:
        """Apply the rule in this module's docstring; return why it fails, or None."""
        try:
            if self.series(expr):
                return None
            relaxed = relax(expr)
            if relaxed == expr:
                return "returned no series and has no comparison or offset to relax"
            if self.series(relaxed):
                return None
            return f"returned no series, nor did its relaxed form {relaxed!r}"
        except PromQLError as error:
            return f"does not run: {error}"


class PromQLError(Exception):
    """Prometheus rejected a query."""
