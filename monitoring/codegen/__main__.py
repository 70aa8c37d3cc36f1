"""Write every generated monitoring file, or list those that are stale.

Usage: python -m monitoring.codegen [--check]
"""

import argparse
import sys
from pathlib import Path

from monitoring.codegen import dashboards, rules, scrape
from monitoring.codegen.output import MONITORING_DIR, render_json, render_yaml


def generated_files() -> dict[Path, str]:
    """Return each generated file's path under monitoring/ and its content."""
    files = {
        Path("prometheus/rules/recording.yml"): render_yaml(
            rules.recording_rules_file()
        ),
        Path("prometheus/rules/alerts.yml"): render_yaml(rules.alerting_rules_file()),
        Path("prometheus/prometheus.local.yml"): render_yaml(scrape.local_config()),
        Path("prometheus/prometheus.yml"): render_yaml(scrape.cluster_config()),
    }
    for board in dashboards.all_dashboards():
        path = Path("grafana/dashboards") / f"{board['uid']}.json"
        files[path] = render_json(board)
    return files


def stale_files(root: Path = MONITORING_DIR) -> list[Path]:
    """Return generated files that are missing or differ from the code."""
    stale = []
    for path, content in generated_files().items():
        target = root / path
        if not target.exists() or target.read_text() != content:
            stale.append(path)
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 and list files that differ from the code",
    )
    args = parser.parse_args()

    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: monitoring/{path}", file=sys.stderr)
        if stale:
            print("Run `make dashboards` to regenerate them.", file=sys.stderr)
        return 1 if stale else 0

    for path, content in generated_files().items():
        target = MONITORING_DIR / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        print(f"wrote monitoring/{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
