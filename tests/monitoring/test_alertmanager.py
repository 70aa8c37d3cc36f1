"""The Alertmanager template renders, passes amtool and routes by severity."""

import subprocess

import pytest

from conftest import MONITORING_DIR
from monitoring.codegen import alertmanager

ENVIRONMENT = {
    "ALERTMANAGER_SMTP_SMARTHOST": "127.0.0.1:2525",
    "ALERTMANAGER_SMTP_FROM": "alertmanager@localhost",
    "ALERTMANAGER_SMTP_USERNAME": "alertmanager",
    "ALERTMANAGER_SLACK_CHANNEL": "#alerts",
    "ALERTMANAGER_EMAIL_TO": "oncall@localhost",
}


@pytest.fixture
def rendered_config(tmp_path):
    environ = {**ENVIRONMENT, "ALERTMANAGER_SECRETS_DIR": str(tmp_path)}
    path = tmp_path / "alertmanager.yml"
    path.write_text(
        alertmanager.render(alertmanager.TEMPLATE_PATH.read_text(), environ)
    )
    return path


def test_amtool_check_config(amtool, rendered_config):
    result = subprocess.run(
        [amtool, "check-config", str(rendered_config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("severity", "receivers"),
    [("critical", "page,chat"), ("warning", "chat"), ("info", "email")],
)
def test_route_by_severity(amtool, rendered_config, severity, receivers):
    result = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={rendered_config}",
            f"severity={severity}",
            "service=inference",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == receivers


def test_render_rejects_missing_variable():
    environ = dict(ENVIRONMENT)
    del environ["ALERTMANAGER_EMAIL_TO"]
    with pytest.raises(ValueError, match="ALERTMANAGER_EMAIL_TO"):
        alertmanager.render(alertmanager.TEMPLATE_PATH.read_text(), environ)


def test_template_commits_no_secret():
    template = (MONITORING_DIR / "alertmanager" / "alertmanager.yml.tmpl").read_text()
    for field in ("routing_key:", "service_key:", "api_url:", "auth_password:"):
        assert field not in template, f"{field} must be read from a file"
