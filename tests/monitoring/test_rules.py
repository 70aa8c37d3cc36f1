"""promtool checks and unit tests of the rules, and their annotations."""

import re
import subprocess

import yaml

from conftest import MONITORING_DIR, RUNBOOK_PATH

RULES_DIR = MONITORING_DIR / "prometheus" / "rules"
TESTS_DIR = MONITORING_DIR / "prometheus" / "tests"


def _alert_rules() -> list[dict]:
    content = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    return [rule for group in content["groups"] for rule in group["rules"]]


def test_promtool_check_rules(promtool):
    files = sorted(str(path) for path in RULES_DIR.glob("*.yml"))
    result = subprocess.run(
        [promtool, "check", "rules", *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(promtool):
    files = sorted(path.name for path in TESTS_DIR.glob("*_test.yml"))
    result = subprocess.run(
        [promtool, "test", "rules", *files],
        cwd=TESTS_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_fire_and_silence_cases():
    cases: dict[str, list[list]] = {}
    for path in TESTS_DIR.glob("*_test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(case["exp_alerts"])
    for rule in _alert_rules():
        name = rule["alert"]
        assert any(alerts for alerts in cases.get(name, [])), f"{name} never fires"
        assert any(not alerts for alerts in cases.get(name, [])), (
            f"{name} has no silent case"
        )


def test_alerts_carry_required_fields():
    for rule in _alert_rules():
        name = rule["alert"]
        annotations = rule["annotations"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
        assert rule.get("for"), f"{name} has no for"
        assert "{{" not in annotations["summary"], f"{name} summary uses labels"
        assert annotations["summary"].endswith("."), name
        assert "{{" in annotations["description"], f"{name} description is static"
        assert annotations["runbook_url"].endswith(f"#{name.lower()}"), name


def test_every_alert_has_runbook_section():
    runbook = RUNBOOK_PATH.read_text()
    headings = set(re.findall(r"^### (\w+)\s*$", runbook, flags=re.MULTILINE))
    for rule in _alert_rules():
        assert rule["alert"] in headings, f"docs/runbook.md lacks ### {rule['alert']}"
