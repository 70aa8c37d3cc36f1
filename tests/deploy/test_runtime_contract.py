"""Check Dockerfiles, compose and Kubernetes against the code they run.

Start commands must name modules that exist in the workspace, every
environment variable set for a process must be one that process reads, and
Traefik's static flags must match those of the local stack.
"""

import ast
import json
import re

import pytest
import yaml
from pydantic import ValidationError

from . import k8s_policies as policies
from .contract import REPO_ROOT, load_services
from .test_compose import APP_SERVICES, ENV_EXAMPLE, compose_config
from .test_dockerfiles import DOCKERFILES, instructions, stages
from .workspace import (
    PYTHON_RUNTIME_VARIABLES,
    SETTINGS_CLASSES,
    command_problems,
    load_settings_class,
    service_variables,
    unread_variables,
)

SERVICES = load_services()
DEVSTACK_STACK = REPO_ROOT / "packages/devstack/src/narrative_devstack/stack.py"
# Flags that only the production Traefik sets, so that it drains open
# requests on SIGTERM. A local run does not need them.
PRODUCTION_ONLY_TRAEFIK_FLAGS = {
    "--entryPoints.web.transport.lifeCycle.requestAcceptGraceTimeout",
    "--entryPoints.web.transport.lifeCycle.graceTimeOut",
}
# Flags whose values depend on where Traefik runs: addresses, file paths,
# and the provider (the file in compose, the CRDs in Kubernetes).
PLACE_DEPENDENT_TRAEFIK_FLAGS = {
    "--entryPoints.web.address",
    "--entryPoints.metrics.address",
    "--accessLog.filePath",
    "--providers.file.filename",
    "--providers.file.watch",
    "--providers.kubernetescrd.namespaces",
    "--providers.kubernetescrd.allowCrossNamespace",
}
# A token the shared settings accept in production: 32 characters or more.
PRODUCTION_TOKEN = "0123456789abcdef" * 4


def runtime_stage(path: str) -> list[str]:
    text = (REPO_ROOT / path).read_text(encoding="utf-8")
    _, _, body = stages(text)[-1]
    return instructions(body)


def dockerfile_command(path: str, target: str | None = None) -> list[str]:
    text = (REPO_ROOT / path).read_text(encoding="utf-8")
    (body,) = [b for _, name, b in stages(text) if name == (target or "runtime")]
    (line,) = [line for line in instructions(body) if line.startswith("CMD ")]
    return json.loads(line.removeprefix("CMD "))


def dockerfile_env(path: str) -> dict[str, str]:
    """Return the ENV names and values of the runtime stage."""
    env = {}
    for line in runtime_stage(path):
        if line.startswith("ENV "):
            env.update(re.findall(r"(\w+)=(\S+)", line))
    return env


@pytest.fixture(scope="module")
def compose_services() -> dict:
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


# Start commands ---------------------------------------------------------


@pytest.mark.parametrize("path", sorted(DOCKERFILES))
def test_dockerfile_command_module_exists(path):
    assert command_problems(dockerfile_command(path)) == []


def test_k8s_commands_match_dockerfiles(rendered):
    images = {name: path for path, name in DOCKERFILES.items()}
    for deployment in policies.by_kind(rendered, "Deployment"):
        name = deployment["metadata"]["name"]
        if name == "narrative-traefik":
            continue
        (container,) = policies.containers(deployment)
        assert container["command"] == dockerfile_command(images[name]), name
        assert command_problems(container["command"]) == [], name


def test_command_check_rejects_missing_modules():
    cases = {
        "misspelt module": ["uvicorn", "narrative_inference.mian:app"],
        "module without app": ["uvicorn", "narrative_inference.settings:app"],
        "misspelt worker": ["python", "-m", "narrative_training.workr"],
        "module without main": ["python", "-m", "narrative_training.settings"],
        "missing package": ["uvicorn", "narrative_missing.main:app"],
        "other program": ["gunicorn", "narrative_inference.main:app"],
    }
    for case, command in cases.items():
        assert command_problems(command), f"not reported: {case}"


# Environment variables --------------------------------------------------


def test_settings_variables_are_collected():
    assert "TRAINING_WORKER_HOST" in service_variables("narrative-training-worker")
    assert "TRAINING_WORKER_METRICS_PORT" in service_variables("narrative-training")
    assert "GATEWAY_AUTH_CACHE_SECONDS" in service_variables("narrative-gateway")
    assert "DATASETS_MAX_UPLOAD_BYTES" in service_variables("narrative-datasets")
    assert "INFERENCE_CACHE_MAX_BYTES" in service_variables("narrative-inference")
    assert "OPENAI_API_KEY" in service_variables("narrative-ai-analysis")
    assert "ANALYSIS_CACHE_TTL_SECONDS" in service_variables("narrative-ai-analysis")
    assert "GATEWAY_MAX_UPLOAD_BYTES" in service_variables("narrative-traefik")
    for deployment in SETTINGS_CLASSES:
        assert "INTERNAL_TOKEN" in service_variables(deployment), deployment


def test_unread_variable_is_reported():
    assert unread_variables({"DATASETS_MAX_UPLOAD_BYTE"}, "narrative-datasets") == [
        "DATASETS_MAX_UPLOAD_BYTE"
    ]
    assert unread_variables({"OPENAI_API_KEY"}, "narrative-datasets") == [
        "OPENAI_API_KEY"
    ]
    assert unread_variables({"MONGODB_URI"}, "narrative-traefik") == ["MONGODB_URI"]
    assert unread_variables({"OPENAI_API_KEY"}, "narrative-ai-analysis") == []


def test_compose_sets_only_read_variables(compose_services):
    for compose_name, deployment in APP_SERVICES.items():
        env = compose_services[compose_name].get("environment", {})
        assert unread_variables(env, deployment) == [], compose_name


def test_k8s_sets_only_read_variables(rendered):
    config_maps = {
        obj["metadata"]["name"]: obj.get("data", {})
        for obj in policies.by_kind(rendered, "ConfigMap")
    }
    for deployment in policies.by_kind(rendered, "Deployment"):
        name = deployment["metadata"]["name"]
        for container in policies.containers(deployment):
            names = {env["name"] for env in container.get("env", [])}
            for source in container.get("envFrom", []):
                names |= set(config_maps[source["configMapRef"]["name"]])
            # Kubernetes expands $(NAME) in args from the container's env.
            arguments = " ".join(container.get("args", []))
            names -= set(re.findall(r"\$\((\w+)\)", arguments))
            assert unread_variables(names, name) == [], name


@pytest.mark.parametrize("path", sorted(DOCKERFILES))
def test_dockerfile_env_is_read(path):
    names = set(dockerfile_env(path)) - PYTHON_RUNTIME_VARIABLES
    assert unread_variables(names, DOCKERFILES[path]) == []


def test_worker_listens_on_all_interfaces(compose_services, rendered):
    port = str(SERVICES["narrative-training-worker"].ports[0])
    image_env = dockerfile_env("services/training/Dockerfile.worker")
    compose_env = compose_services["training-worker"]["environment"]
    (deployment,) = [
        d
        for d in policies.by_kind(rendered, "Deployment")
        if d["metadata"]["name"] == "narrative-training-worker"
    ]
    (container,) = policies.containers(deployment)
    k8s_env = {env["name"]: env.get("value") for env in container["env"]}
    for where, env in (("image", image_env), ("compose", compose_env)):
        assert env["TRAINING_WORKER_HOST"] == "0.0.0.0", where
        assert env["TRAINING_WORKER_PORT"] == port, where
    assert k8s_env["TRAINING_WORKER_HOST"] == "0.0.0.0"
    assert k8s_env["TRAINING_WORKER_PORT"] == port


@pytest.mark.parametrize("compose_name", sorted(set(APP_SERVICES) - {"traefik"}))
def test_compose_env_loads_in_production(compose_services, compose_name, monkeypatch):
    settings_class = load_settings_class(SETTINGS_CLASSES[APP_SERVICES[compose_name]])
    env = {
        **compose_services[compose_name]["environment"],
        "INTERNAL_TOKEN": PRODUCTION_TOKEN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    settings = settings_class(_env_file=None)
    assert settings.environment == "production"


def test_env_example_token_is_rejected_in_production(compose_services, monkeypatch):
    # The placeholder is too short, so a stack started without replacing it
    # stops at once instead of running with a guessable token.
    settings_class = load_settings_class(SETTINGS_CLASSES["narrative-datasets"])
    for name, value in compose_services["datasets"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    with pytest.raises(ValidationError, match="INTERNAL_TOKEN"):
        settings_class(_env_file=None)


# Traefik static configuration ---------------------------------------------


def devstack_traefik_flags() -> dict[str, str | None]:
    """Return the flags the local stack passes to Traefik.

    A flag built with an f-string maps to None, because its value depends on
    the local ports and folders.
    """
    tree = ast.parse(DEVSTACK_STACK.read_text(encoding="utf-8"))
    (function,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == "_traefik"
    ]
    flags = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("--"):
                flag, _, value = node.value.partition("=")
                flags[flag] = value
        elif isinstance(node, ast.JoinedStr):
            first = node.values[0]
            if isinstance(first, ast.Constant) and str(first.value).startswith("--"):
                flags[str(first.value).partition("=")[0]] = None
    assert flags, f"no Traefik flags found in {DEVSTACK_STACK}"
    return flags


def flag_values(arguments: list[str]) -> dict[str, str]:
    return dict(
        argument.partition("=")[::2]
        for argument in arguments
        if argument.startswith("--")
    )


def check_traefik_flags(flags: dict[str, str]) -> list[str]:
    """Compare production Traefik flags with the local stack's."""
    local = devstack_traefik_flags()
    problems = []
    for flag, value in local.items():
        if flag in PLACE_DEPENDENT_TRAEFIK_FLAGS:
            continue
        if flag not in flags:
            problems.append(f"{flag} is missing")
        elif value is not None and flags[flag] != value:
            problems.append(f"{flag}={flags[flag]}, the local stack uses {value}")
    allowed = set(local) | PRODUCTION_ONLY_TRAEFIK_FLAGS | PLACE_DEPENDENT_TRAEFIK_FLAGS
    problems += [
        f"{flag} is not used by the local stack" for flag in flags.keys() - allowed
    ]
    return problems


def test_traefik_image_flags_match_local_stack():
    command = dockerfile_command("services/gateway/Dockerfile", target="traefik")
    flags = flag_values(command[1:])
    assert check_traefik_flags(flags) == []
    assert flags["--providers.file.filename"] == "/etc/traefik/dynamic.yml"
    assert flags["--entryPoints.web.address"] == ":8000"
    assert flags["--entryPoints.metrics.address"] == ":8082"


def test_k8s_traefik_flags_match_local_stack(rendered):
    (deployment,) = [
        d
        for d in policies.by_kind(rendered, "Deployment")
        if d["metadata"]["name"] == "narrative-traefik"
    ]
    (container,) = policies.containers(deployment)
    flags = flag_values(container["args"])
    assert check_traefik_flags(flags) == []
    assert "--providers.file.filename" not in flags
    assert flags["--providers.kubernetescrd.namespaces"] == "$(POD_NAMESPACE)"


def test_traefik_flag_drift_is_reported():
    command = dockerfile_command("services/gateway/Dockerfile", target="traefik")
    flags = flag_values(command[1:])
    flags["--metrics.prometheus.buckets"] = "0.1,1,10"
    del flags["--ping.entryPoint"]
    flags["--api.insecure"] = "true"
    problems = check_traefik_flags(flags)
    assert any("--metrics.prometheus.buckets" in p for p in problems)
    assert any("--ping.entryPoint" in p for p in problems)
    assert any("--api.insecure" in p for p in problems)
