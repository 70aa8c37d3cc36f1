"""Render the kustomizations and check every object offline."""

import copy

import jsonschema
import kubernetes_validate
import pytest

from monitoring.codegen.settings import SCRAPE_TARGETS

from . import k8s_policies as policies
from .contract import load_services, load_shared_settings
from .crd_schemas import CRD_SCHEMAS

# Version of the schemas bundled with kubernetes-validate, so nothing is fetched.
KUBERNETES_VERSION = "1.37.0"
# Grace periods long enough for in-flight work: uploads being profiled, and
# training jobs, whose p95 alert threshold is 600 s.
MIN_GRACE_SECONDS = {
    "narrative-datasets": 120,
    "narrative-training-worker": 660,
    "narrative-traefik": 45,
}

SERVICES = load_services()
# Deployment name -> the port Prometheus scrapes, from the monitoring settings.
SCRAPE_PORTS = {
    target.cluster_host: target.local_port
    for target in SCRAPE_TARGETS
    if target.cluster_host.startswith("narrative-")
}


def validate_object(obj: dict) -> None:
    """Validate one object against the Kubernetes or the CRD schema."""
    schema = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
    if schema is not None:
        jsonschema.validate(obj, schema)
        return
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_every_object_matches_its_schema(rendered):
    assert rendered, "the kustomization rendered no objects"
    for obj in rendered:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            validate_object(obj)
        except (
            kubernetes_validate.ValidationError,
            kubernetes_validate.SchemaNotFoundError,
            jsonschema.ValidationError,
        ) as error:
            pytest.fail(f"{name} is invalid: {error}")


def test_every_service_has_a_deployment(rendered):
    names = {d["metadata"]["name"] for d in policies.by_kind(rendered, "Deployment")}
    assert names == set(SERVICES)


def test_containers_follow_policy(rendered):
    assert policies.check_containers(rendered) == []


def test_deployments_roll_without_downtime(rendered):
    assert policies.check_deployments(rendered, MIN_GRACE_SECONDS) == []


def test_probes_use_served_ports_and_paths(rendered):
    assert policies.check_probe_paths(rendered, SERVICES) == []


def test_deployments_have_service_and_pdb(rendered):
    assert policies.check_services_and_pdbs(rendered) == []


def test_every_pod_is_scraped(rendered):
    assert policies.check_scrape_services(rendered, SCRAPE_PORTS) == []


def test_scrape_targets_are_deployments():
    assert set(SCRAPE_PORTS) == set(SERVICES)


def test_routes_point_at_services(rendered):
    assert policies.check_routes(rendered, SERVICES) == []


def test_scaling_targets_exist(rendered):
    assert policies.check_scaling(rendered) == []


def test_no_secret_values_committed(rendered):
    assert policies.check_secrets(rendered) == []


def test_network_policies(rendered):
    assert policies.check_network_policies(rendered) == []


def test_configmap_has_shared_settings(rendered):
    config = next(
        obj
        for obj in rendered
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "narrative-config"
    )
    secret_names = {
        "MONGODB_URI",
        "REDIS_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "INTERNAL_TOKEN",
    }
    assert load_shared_settings() - secret_names == set(config["data"])
    assert config["data"]["ENVIRONMENT"] == "production"


def test_secret_settings_come_from_secrets(rendered):
    secret_names = {
        "MONGODB_URI",
        "REDIS_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "INTERNAL_TOKEN",
    }
    for deployment in policies.by_kind(rendered, "Deployment"):
        if deployment["metadata"]["name"] == "narrative-traefik":
            continue
        container = policies.containers(deployment)[0]
        from_secrets = {
            env["name"]
            for env in container.get("env", [])
            if "secretKeyRef" in env.get("valueFrom", {})
        }
        assert from_secrets >= secret_names, deployment["metadata"]["name"]


def test_production_objects_in_production_namespace(production):
    assert policies.check_namespace(production, "production") == []


def test_production_has_namespace_object(production):
    namespaces = [
        obj["metadata"]["name"] for obj in production if obj["kind"] == "Namespace"
    ]
    assert namespaces == ["production"]


def test_edge_upload_limit_above_services(rendered):
    (upload_limit,) = [
        m["spec"]["buffering"]
        for m in policies.by_kind(rendered, "Middleware")
        if m["metadata"]["name"] == "upload-limit"
    ]
    edge = upload_limit["maxRequestBodyBytes"]
    limits = {
        "narrative-datasets": "DATASETS_MAX_UPLOAD_BYTES",
        "narrative-inference": "INFERENCE_BATCH_MAX_UPLOAD_BYTES",
    }
    for name, variable in limits.items():
        (container,) = policies.containers(_deployment(rendered, name))
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert edge > int(env[variable]), variable


def test_worker_scales_on_queue_depth(production):
    (scaler,) = policies.by_kind(production, "ScaledObject")
    (trigger,) = scaler["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert "training_queue_depth" in trigger["metadata"]["query"]


# Each check must report a problem when the thing it checks is broken.


def _deployment(objects: list[dict], name: str) -> dict:
    return next(
        obj
        for obj in policies.by_kind(objects, "Deployment")
        if obj["metadata"]["name"] == name
    )


def test_broken_manifests_fail_checks(production):
    cases = []

    objects = copy.deepcopy(production)
    del policies.containers(_deployment(objects, "narrative-inference"))[0][
        "readinessProbe"
    ]
    cases.append(("missing readiness probe", policies.check_containers(objects)))

    objects = copy.deepcopy(production)
    policies.containers(_deployment(objects, "narrative-datasets"))[0]["image"] = (
        "narrative-datasets:latest"
    )
    cases.append(("latest image tag", policies.check_containers(objects)))

    objects = copy.deepcopy(production)
    del policies.containers(_deployment(objects, "narrative-gateway"))[0]["resources"][
        "limits"
    ]
    cases.append(("missing limits", policies.check_containers(objects)))

    objects = copy.deepcopy(production)
    _deployment(objects, "narrative-training")["spec"]["template"]["spec"][
        "securityContext"
    ]["runAsNonRoot"] = False
    cases.append(("root allowed", policies.check_containers(objects)))

    objects = copy.deepcopy(production)
    probe = policies.containers(_deployment(objects, "narrative-inference"))[0][
        "readinessProbe"
    ]
    probe["httpGet"]["path"] = "/ready"
    cases.append(("unknown probe path", policies.check_probe_paths(objects, SERVICES)))

    objects = copy.deepcopy(production)
    ports = policies.containers(_deployment(objects, "narrative-ai-analysis"))[0][
        "ports"
    ]
    ports[0]["containerPort"] = 8050
    cases.append(
        ("wrong container port", policies.check_probe_paths(objects, SERVICES))
    )

    objects = [
        o
        for o in production
        if not (
            o["kind"] == "PodDisruptionBudget"
            and o["metadata"]["name"] == "narrative-training"
        )
    ]
    cases.append(("missing PDB", policies.check_services_and_pdbs(objects)))

    objects = [
        o
        for o in production
        if not (
            o["kind"] == "Service" and o["metadata"]["name"] == "narrative-datasets"
        )
    ]
    cases.append(("missing Service", policies.check_services_and_pdbs(objects)))
    cases.append(("route to missing Service", policies.check_routes(objects, SERVICES)))

    objects = copy.deepcopy(production)
    _deployment(objects, "narrative-training-worker")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 30
    cases.append(
        ("short worker grace", policies.check_deployments(objects, MIN_GRACE_SECONDS))
    )

    objects = copy.deepcopy(production)
    _deployment(objects, "narrative-inference")["spec"]["strategy"]["rollingUpdate"][
        "maxUnavailable"
    ] = 1
    cases.append(
        ("unavailable rollout", policies.check_deployments(objects, MIN_GRACE_SECONDS))
    )

    objects = [
        o
        for o in production
        if not (
            o["kind"] == "Service"
            and o["metadata"]["name"] == "narrative-inference-pods"
        )
    ]
    cases.append(
        (
            "missing headless Service",
            policies.check_scrape_services(objects, SCRAPE_PORTS),
        )
    )

    objects = copy.deepcopy(production)
    for obj in objects:
        if (
            obj["kind"] == "Service"
            and obj["metadata"]["name"] == "narrative-gateway-pods"
        ):
            del obj["spec"]["clusterIP"]
    cases.append(
        (
            "scrape Service with a VIP",
            policies.check_scrape_services(objects, SCRAPE_PORTS),
        )
    )

    objects = copy.deepcopy(production)
    for obj in objects:
        if (
            obj["kind"] == "Service"
            and obj["metadata"]["name"] == "narrative-traefik-pods"
        ):
            obj["spec"]["ports"][0]["targetPort"] = "web"
    cases.append(
        (
            "scrape Service on the wrong port",
            policies.check_scrape_services(objects, SCRAPE_PORTS),
        )
    )

    objects = [o for o in production if o["kind"] != "HorizontalPodAutoscaler"]
    cases.append(("missing HPAs", policies.check_scaling(objects)))

    objects = production + [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "x", "namespace": "production"},
            "data": {"k": "dg=="},
        }
    ]
    cases.append(("committed Secret", policies.check_secrets(objects)))

    objects = [
        o
        for o in production
        if o["kind"] != "NetworkPolicy" or o["metadata"]["name"] != "allow-dns"
    ]
    cases.append(("no DNS egress", policies.check_network_policies(objects)))

    objects = copy.deepcopy(production)
    objects[-1]["metadata"]["namespace"] = "default"
    cases.append(("wrong namespace", policies.check_namespace(objects, "production")))

    for case, problems in cases:
        assert problems, f"check did not catch: {case}"


def test_schema_validation_rejects_invalid_objects(production):
    broken = copy.deepcopy(_deployment(production, "narrative-inference"))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_object(broken)

    (scaler,) = copy.deepcopy(policies.by_kind(production, "ScaledObject"))
    scaler["spec"]["triggers"][0]["metadata"]["threshold"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate_object(scaler)

    route = copy.deepcopy(policies.by_kind(production, "IngressRoute")[0])
    route["spec"]["routes"][0]["servics"] = route["spec"]["routes"][0].pop("services")
    with pytest.raises(jsonschema.ValidationError):
        validate_object(route)
