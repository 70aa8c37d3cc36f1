"""The service must run on onnxruntime alone, without scikit-learn."""

import json
import subprocess
import sys

FORBIDDEN = ("sklearn", "skl2onnx")


def test_service_does_not_import_sklearn():
    code = (
        "import json, sys\n"
        "import narrative_inference.main\n"
        "import narrative_inference.models.batch\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "onnxruntime" in modules
    for name in FORBIDDEN:
        assert name not in modules
