"""Run the compose Alertmanager entrypoint on the real template, offline.

The container renders monitoring/alertmanager/alertmanager.yml.tmpl with awk
and checks it with amtool before Alertmanager starts. These tests run that
same script with sh, each POSIX awk found here and the real amtool, with a
stand-in `alertmanager` that records its arguments, and compare the result
with monitoring.codegen.alertmanager, the renderer the template ships with.
"""

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from monitoring.codegen.alertmanager import TEMPLATE_PATH, placeholders, render

from .contract import REPO_ROOT
from .test_compose import ENV_EXAMPLE, compose_config, parse_volume
from .tools import find_tool

# awk implementations in POSIX mode, because the image has busybox awk, not gawk.
AWKS = {"gawk": ["gawk", "--posix"], "mawk": ["mawk"]}


@pytest.fixture(scope="module")
def alertmanager() -> dict:
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]["alertmanager"]


def entrypoint_script(service: dict) -> str:
    """Return the sh script of the entrypoint, with Compose's $$ unescaped."""
    shell, flag, script, _name = service["entrypoint"]
    assert (shell, flag) == ("/bin/sh", "-c")
    return script.replace("$$", "$")


def secret_files_in_template() -> set[str]:
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    return set(re.findall(r"\$\{ALERTMANAGER_SECRETS_DIR\}/([\w.-]+)", text))


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture(params=sorted(AWKS))
def bin_dir(request, tmp_path) -> Path:
    """PATH folder with one awk, amtool, and a recording `alertmanager`."""
    command = AWKS[request.param]
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    folder = tmp_path / "bin"
    folder.mkdir()
    _executable(folder / "awk", f'#!/bin/sh\nexec {" ".join(command)} "$@"\n')
    (folder / "amtool").symlink_to(find_tool("amtool"))
    _executable(
        folder / "alertmanager",
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$ALERTMANAGER_ARGS_FILE"\n',
    )
    return folder


def run_entrypoint(
    service: dict, bin_dir: Path, tmp_path: Path, overrides: dict[str, str]
) -> subprocess.CompletedProcess:
    secrets = tmp_path / "secrets"
    if not secrets.exists():
        secrets.mkdir()
        for name in secret_files_in_template():
            (secrets / name).write_text(f"value-of-{name}\n")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        **service["environment"],
        "ALERTMANAGER_SECRETS_DIR": str(secrets),
        "ALERTMANAGER_TEMPLATE": str(TEMPLATE_PATH),
        "ALERTMANAGER_CONFIG": str(tmp_path / "alertmanager.yml"),
        "ALERTMANAGER_ARGS_FILE": str(tmp_path / "args"),
        **overrides,
    }
    return subprocess.run(
        ["sh", "-c", entrypoint_script(service), "alertmanager-entrypoint"]
        + service["command"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rendered_config_matches_codegen(alertmanager, bin_dir, tmp_path):
    result = run_entrypoint(alertmanager, bin_dir, tmp_path, {})
    assert result.returncode == 0, result.stderr
    rendered = (tmp_path / "alertmanager.yml").read_text()
    expected_env = {
        **alertmanager["environment"],
        "ALERTMANAGER_SECRETS_DIR": str(tmp_path / "secrets"),
    }
    assert rendered == render(TEMPLATE_PATH.read_text(), expected_env)
    assert "${" not in rendered
    # Go templates of the notifications pass through untouched.
    assert "{{ .CommonLabels.alertname }}" in rendered
    args = (tmp_path / "args").read_text().splitlines()
    assert args == [
        f"--config.file={tmp_path / 'alertmanager.yml'}",
        "--storage.path=/alertmanager",
    ]


def test_missing_secret_file_stops_start(alertmanager, bin_dir, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "pagerduty-routing-key").write_text("key\n")
    (secrets / "smtp-password").write_text("")
    result = run_entrypoint(alertmanager, bin_dir, tmp_path, {})
    assert result.returncode != 0
    assert "slack-webhook-url is missing or empty" in result.stderr
    assert not (tmp_path / "args").exists()


def test_empty_variable_stops_start(alertmanager, bin_dir, tmp_path):
    result = run_entrypoint(
        alertmanager, bin_dir, tmp_path, {"ALERTMANAGER_EMAIL_TO": ""}
    )
    assert result.returncode != 0
    assert "ALERTMANAGER_EMAIL_TO is empty" in result.stderr
    assert not (tmp_path / "args").exists()


def test_invalid_config_stops_start(alertmanager, bin_dir, tmp_path):
    # amtool rejects an SMTP smarthost without a port.
    result = run_entrypoint(
        alertmanager, bin_dir, tmp_path, {"ALERTMANAGER_SMTP_SMARTHOST": "smtp"}
    )
    assert result.returncode != 0
    assert "missing port in address" in result.stderr
    assert not (tmp_path / "args").exists()


def test_compose_sets_template_variables(alertmanager):
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    assert placeholders(template) <= set(alertmanager["environment"])


def test_entrypoint_checks_template_secret_files(alertmanager):
    loop = re.search(r"for secret in ([^;]+);", entrypoint_script(alertmanager))
    assert loop, "the entrypoint checks no secret files"
    assert set(loop.group(1).split()) == secret_files_in_template()


def test_template_and_secrets_mounted(alertmanager):
    env = alertmanager["environment"]
    mounts = {
        target: (kind, source)
        for kind, source, target in map(parse_volume, alertmanager["volumes"])
    }
    assert mounts[env["ALERTMANAGER_TEMPLATE"]] == (
        "bind",
        str(TEMPLATE_PATH),
    )
    kind, source = mounts[env["ALERTMANAGER_SECRETS_DIR"]]
    assert kind == "bind"
    assert Path(source) == REPO_ROOT / "secrets" / "alertmanager"
    # The rendered config lands on the tmpfs of a read-only container.
    assert alertmanager["read_only"] is True
    assert Path(env["ALERTMANAGER_CONFIG"]).parent == Path("/tmp")
    assert "/tmp" in alertmanager["tmpfs"]
