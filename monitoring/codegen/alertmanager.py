"""Render the Alertmanager config template from environment variables.

Usage: python -m monitoring.codegen.alertmanager --output PATH
"""

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from monitoring.codegen.output import MONITORING_DIR

TEMPLATE_PATH = MONITORING_DIR / "alertmanager" / "alertmanager.yml.tmpl"

# Only ${UPPER_CASE} is a placeholder, so Go templates such as
# `{{ .Status }}` in the config pass through untouched.
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")

# Where the secret files are mounted when the variable is not set.
DEFAULTS = {"ALERTMANAGER_SECRETS_DIR": "/etc/alertmanager/secrets"}


def placeholders(template: str) -> set[str]:
    """Return the variable names the template needs."""
    return set(PLACEHOLDER.findall(template))


def render(template: str, environ: Mapping[str, str]) -> str:
    """Replace every ${NAME} with its value, or raise if any is missing."""
    values = {**DEFAULTS, **environ}
    missing = sorted(name for name in placeholders(template) if not values.get(name))
    if missing:
        raise ValueError(
            "missing environment variables for the Alertmanager config: "
            + ", ".join(missing)
        )
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output", type=Path, required=True, help="path of the rendered config"
    )
    args = parser.parse_args()
    try:
        rendered = render(TEMPLATE_PATH.read_text(), os.environ)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    args.output.write_text(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
