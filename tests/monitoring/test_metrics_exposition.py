"""promtool check metrics accepts the exposition of the metrics contract."""

import subprocess

from prometheus_client import generate_latest
from sample_metrics import build_registry


def test_promtool_check_metrics(promtool):
    exposition = generate_latest(build_registry())
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
