"""What the workspace code reads and runs, for checking deployment files against it.

The environment variables each service reads come from its pydantic settings
class, imported from the workspace venv. Traefik reads the variables that
services/gateway/traefik/dynamic.yml names in `{{ env "..." }}`.
"""

import ast
import importlib
import importlib.util
import re
from pathlib import Path

from pydantic import AliasChoices

from .contract import REPO_ROOT

# Deployment name -> the settings class of the process it runs.
SETTINGS_CLASSES = {
    "narrative-gateway": "narrative_gateway.settings:GatewaySettings",
    "narrative-datasets": "narrative_datasets.settings:DatasetsSettings",
    "narrative-training": "narrative_training.settings:TrainingSettings",
    "narrative-training-worker": "narrative_training.settings:TrainingSettings",
    "narrative-inference": "narrative_inference.settings:InferenceSettings",
    "narrative-ai-analysis": "narrative_analysis.settings:AnalysisSettings",
}
TRAEFIK_DYNAMIC_CONFIG = REPO_ROOT / "services/gateway/traefik/dynamic.yml"
# Variables the Python runtime reads, which images may set.
PYTHON_RUNTIME_VARIABLES = {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"}


def _alias_names(alias) -> set[str]:
    """Return the plain names of a validation alias. AliasPath entries have none."""
    if isinstance(alias, str):
        return {alias}
    if isinstance(alias, AliasChoices):
        return {choice for choice in alias.choices if isinstance(choice, str)}
    return set()


def settings_variables(settings_class) -> set[str]:
    """Return the upper-case environment variable names a settings class reads.

    pydantic-settings reads a field from its validation alias when it has
    one, and from the env prefix plus the field name otherwise. Matching is
    case-insensitive unless the class sets case_sensitive.
    """
    prefix = settings_class.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in settings_class.model_fields.items():
        aliases = _alias_names(field.validation_alias)
        if not aliases:
            aliases = {prefix + (field.alias or field_name)}
        names |= {alias.upper() for alias in aliases}
    return names


def load_settings_class(spec: str):
    module_name, _, class_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def service_variables(deployment: str) -> set[str]:
    """Return the variables the process of one Deployment reads."""
    if deployment == "narrative-traefik":
        return traefik_variables()
    return settings_variables(load_settings_class(SETTINGS_CLASSES[deployment]))


def traefik_variables() -> set[str]:
    """Return the variables dynamic.yml reads through Go templates."""
    text = TRAEFIK_DYNAMIC_CONFIG.read_text(encoding="utf-8")
    return set(re.findall(r'\{\{\s*env\s+"(\w+)"', text))


def unread_variables(names, deployment: str) -> list[str]:
    """Return the names in `names` that the Deployment's process never reads."""
    read = service_variables(deployment)
    return sorted(name for name in names if name.upper() not in read)


def _module_source(module: str) -> tuple[Path | None, str | None]:
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:
        return None, None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None, None
    path = Path(spec.origin)
    return path, path.read_text(encoding="utf-8")


def _defines_name(tree: ast.Module, name: str) -> bool:
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def _has_main_guard(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            return True
    return False


def command_problems(command: list[str]) -> list[str]:
    """Check that a container command starts a module that the workspace has.

    Two forms are known: `uvicorn <module>:<app> ...`, where the module must
    assign <app> at top level, and `python -m <module>`, where the module
    must have an `if __name__ == "__main__"` block. The module is found
    without importing it, in the venv that runs the tests.
    """
    if command[:1] == ["uvicorn"] and len(command) > 1:
        module, _, attribute = command[1].partition(":")
        path, source = _module_source(module)
        if source is None:
            return [f"uvicorn: module {module} was not found in the workspace"]
        if not _defines_name(ast.parse(source), attribute or "app"):
            return [f"uvicorn: {path} does not assign {attribute or 'app'}"]
        return []
    if command[:2] == ["python", "-m"] and len(command) > 2:
        module = command[2]
        path, source = _module_source(module)
        if source is None:
            return [f"python -m: module {module} was not found in the workspace"]
        if not _has_main_guard(ast.parse(source)):
            return [f"python -m: {path} has no `if __name__ == '__main__'` block"]
        return []
    return [f"unknown command form {command!r}: expected uvicorn or python -m"]
