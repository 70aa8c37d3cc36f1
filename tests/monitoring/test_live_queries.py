"""Every PromQL query in the runbooks, the rules and the dashboards returns
series on a real Prometheus scraping the real stack.

Prometheus scrapes every service, the training worker, Traefik's metrics
entry point and itself each second, with the project's recording and alert
rules, while the analyst's workflow runs through Traefik. promql.py states
the rule each query is held to.
"""

import re
import socket
import time

import pytest
from live import EARLIER_RUNBOOK, SHARED_DATASETS, Analyst, run_workflow
from promql import (
    Prometheus,
    dashboard_queries,
    job_ports,
    markdown_promql_blocks,
    rule_queries,
    split_promql_blocks,
)

from conftest import MONITORING_DIR, RUNBOOK_PATH
from monitoring.codegen import settings

RULES_DIR = MONITORING_DIR / "prometheus" / "rules"
DASHBOARDS_DIR = MONITORING_DIR / "grafana" / "dashboards"
COUNTER_FUNCTIONS = ("rate", "irate", "increase", "resets")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def prometheus(prometheus_binary, monitored_stack, tmp_path_factory):
    server = Prometheus(
        prometheus_binary,
        tmp_path_factory.mktemp("prometheus"),
        _free_port(),
        job_ports(monitored_stack.config.ports),
        [RULES_DIR / "recording.yml", RULES_DIR / "alerts.yml"],
    ).start()
    try:
        every_target = len(settings.SCRAPE_TARGETS)
        server.wait_until(f"count(up == 1) == {every_target}", 60)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scraped(prometheus, monitored_stack, fake_openai):
    """Run the workflow, then wait until Prometheus has scraped its end."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"the shared datasets folder {SHARED_DATASETS} is absent")
    analyst = Analyst(
        monitored_stack.gateway_url, monitored_stack.api_key("monitoring-analyst")
    )
    try:
        run_workflow(monitored_stack, analyst, fake_openai)
    finally:
        analyst.close()
    # Two scrapes of every target after the last request give rate() its
    # two samples; two more seconds let the rules on recorded series run.
    finished = time.time()
    prometheus.wait_until(f"min(timestamp(up)) > {finished + 2.5}", 30)
    time.sleep(2)
    return prometheus


def _failures(prometheus: Prometheus, queries: list[tuple[str, str]]) -> list[str]:
    failures = []
    for where, expr in queries:
        why = prometheus.check(expr)
        if why:
            failures.append(f"{where}: {expr}\n    {why}")
    return failures


def test_every_target_is_scraped(scraped):
    up = {s["metric"]["job"]: s["value"][1] for s in scraped.series("up")}
    assert up == {target.job: "1" for target in settings.SCRAPE_TARGETS}


def test_runbook_queries_return_series(scraped):
    queries = markdown_promql_blocks(RUNBOOK_PATH.read_text())
    assert len(queries) > 20
    failures = _failures(scraped, [("docs/runbook.md", q) for q in queries])
    assert failures == [], "\n".join(failures)


def test_dashboard_queries_return_series(scraped):
    queries = dashboard_queries(DASHBOARDS_DIR)
    assert len(queries) > 50
    failures = _failures(scraped, [(q.where, q.expr) for q in queries])
    assert failures == [], "\n".join(failures)


def test_rule_expressions_return_series(scraped):
    queries = rule_queries(RULES_DIR)
    assert len(queries) > 30
    failures = _failures(scraped, queries)
    assert failures == [], "\n".join(failures)


def test_rules_evaluate_without_errors(scraped):
    answer = scraped.get("/api/v1/rules")
    assert answer["status"] == "success"
    rules = [rule for group in answer["data"]["groups"] for rule in group["rules"]]
    assert len(rules) == len(rule_queries(RULES_DIR))
    for rule in rules:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"


# The earlier operations runbook -------------------------------------------


def _metric_types(prometheus: Prometheus) -> dict[str, str]:
    answer = prometheus.get("/api/v1/metadata")
    return {name: entries[0]["type"] for name, entries in answer["data"].items()}


def type_misuse(expr: str, types: dict[str, str]) -> str | None:
    """Say how a query misuses a metric's type, or return None."""
    for function, name in re.findall(r"\b(\w+)\(\s*([a-zA-Z_:][\w:]*)", expr):
        if function in COUNTER_FUNCTIONS and types.get(name) == "gauge":
            return f"{function}() is for counters, and {name} is a gauge"
    for name, kind in types.items():
        if kind == "histogram" and re.search(
            rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr
        ):
            return f"{name} is a histogram: only _bucket, _sum and _count exist"
    return None


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def correction_for(runbook: str, query: str) -> tuple[str, str] | None:
    """Find where the runbook quotes a query in `backticks`; return the prose
    after the quote and the first promql block after it."""
    text = _squash(runbook)
    quoted = text.find(f"`{_squash(query)}`")
    if quoted < 0:
        return None
    rest = text[quoted + len(query) + 2 :]
    block = re.search(r"```promql (.*?)```", rest)
    if block is None:
        return None
    return rest[: block.start()], block.group(1).strip()


@pytest.fixture(scope="module")
def earlier_runbook_queries() -> list[str]:
    if not EARLIER_RUNBOOK.is_file():
        pytest.skip(f"the earlier operations runbook {EARLIER_RUNBOOK} is absent")
    queries = split_promql_blocks(EARLIER_RUNBOOK.read_text())
    assert len(queries) >= 5
    return queries


def test_earlier_runbook_queries_run_or_are_corrected(scraped, earlier_runbook_queries):
    """A query of the earlier runbook that fails the rule or misuses a metric's type must be
    quoted in docs/runbook.md, followed by why, then a corrected query that
    passes the rule."""
    runbook = RUNBOOK_PATH.read_text()
    types = _metric_types(scraped)
    problems = []
    corrected = 0
    for query in earlier_runbook_queries:
        fault = scraped.check(query) or type_misuse(query, types)
        if fault is None:
            continue
        found = correction_for(runbook, query)
        if found is None:
            problems.append(f"{query}: {fault}; docs/runbook.md does not correct it")
            continue
        why, correction = found
        if len(why.strip(" .:")) < 40:
            problems.append(f"{query}: the runbook does not say why it is wrong")
        if _squash(correction) == _squash(query):
            problems.append(f"{query}: the correction is the same query")
        still = scraped.check(correction) or type_misuse(correction, types)
        if still:
            problems.append(f"{query}: the correction {correction} {still}")
        corrected += 1
    assert problems == [], "\n".join(problems)
    assert corrected >= 2, "the earlier runbook's known faults were not detected"


def test_type_misuse_is_detected():
    types = {
        "business_active_users": "gauge",
        "ml_training_duration_seconds": "histogram",
    }
    assert type_misuse('increase(business_active_users{time_window="day"}[24h])', types)
    assert type_misuse("avg(ml_training_duration_seconds) by (model_type)", types)
    assert not type_misuse("rate(ml_training_duration_seconds_sum[1h])", types)
    assert not type_misuse('max(business_active_users{time_window="day"})', types)
