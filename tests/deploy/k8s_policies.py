"""Policy checks on rendered Kubernetes objects.

Each check takes the objects of one rendered kustomization and returns a list
of problems, empty when the objects comply. Tests assert on that list, and
feed deliberately broken copies to each check to prove that it can fail.
"""

import re

from .contract import Service


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def containers(deployment: dict) -> list[dict]:
    return deployment["spec"]["template"]["spec"]["containers"]


def _named_ports(container: dict) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in container.get("ports", [])}


def _resolve_port(container: dict, port) -> int | None:
    """Return the container port number that a probe or Service port names."""
    if isinstance(port, int):
        numbers = {p["containerPort"] for p in container.get("ports", [])}
        return port if port in numbers else None
    return _named_ports(container).get(port)


def check_containers(objects: list[dict]) -> list[str]:
    """Check probes, resources, security context and image tags of every container."""
    problems = []
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        pod_security = pod.get("securityContext", {})
        for container in containers(deployment):
            where = f"{name}/{container['name']}"
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe not in container:
                    problems.append(f"{where}: {probe} is missing")
            resources = container.get("resources", {})
            for section in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(section, {}):
                        problems.append(
                            f"{where}: resources.{section}.{resource} is missing"
                        )
            security = container.get("securityContext", {})
            run_as_non_root = security.get(
                "runAsNonRoot", pod_security.get("runAsNonRoot", False)
            )
            if not run_as_non_root:
                problems.append(f"{where}: runAsNonRoot is not true")
            user = security.get("runAsUser", pod_security.get("runAsUser"))
            if user in (None, 0):
                problems.append(f"{where}: runAsUser is unset or 0")
            if not security.get("readOnlyRootFilesystem", False):
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if security.get("allowPrivilegeEscalation", True):
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            tmp_volumes = {
                mount["name"]
                for mount in container.get("volumeMounts", [])
                if mount["mountPath"] == "/tmp"
            }
            empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
            if not tmp_volumes & empty_dirs:
                problems.append(f"{where}: /tmp is not an emptyDir volume")
            image = container["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if not tag or tag == "latest":
                problems.append(f"{where}: image {image} has no pinned tag")
            if "preStop" not in container.get("lifecycle", {}):
                problems.append(f"{where}: lifecycle.preStop is missing")
    return problems


def check_deployments(
    objects: list[dict], min_grace_seconds: dict[str, int]
) -> list[str]:
    """Check rollout strategy, history, change-cause and grace periods."""
    problems = []
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        rolling = spec.get("strategy", {}).get("rollingUpdate", {})
        if spec.get("strategy", {}).get("type") != "RollingUpdate":
            problems.append(f"{name}: strategy is not RollingUpdate")
        if rolling.get("maxUnavailable") != 0:
            problems.append(f"{name}: maxUnavailable is not 0")
        if rolling.get("maxSurge") != 1:
            problems.append(f"{name}: maxSurge is not 1")
        if not spec.get("revisionHistoryLimit"):
            problems.append(f"{name}: revisionHistoryLimit is missing")
        annotations = deployment["metadata"].get("annotations", {})
        if not annotations.get("kubernetes.io/change-cause"):
            problems.append(f"{name}: kubernetes.io/change-cause annotation is missing")
        grace = spec["template"]["spec"].get("terminationGracePeriodSeconds", 30)
        if grace < min_grace_seconds.get(name, 30):
            problems.append(
                f"{name}: terminationGracePeriodSeconds {grace} is below "
                f"{min_grace_seconds.get(name, 30)}"
            )
        for container in containers(deployment):
            command = container.get("lifecycle", {}).get("preStop", {})
            sleep = command.get("exec", {}).get("command", [])
            if sleep[:1] == ["sleep"] and int(sleep[1]) >= grace:
                problems.append(
                    f"{name}: preStop sleep is not shorter than the grace period"
                )
    return problems


def check_probe_paths(objects: list[dict], services: dict[str, Service]) -> list[str]:
    """Check that each probe hits a port and path the contract gives the service."""
    problems = []
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        service = services.get(name)
        if service is None:
            problems.append(f"{name}: not in the architecture doc's services table")
            continue
        for container in containers(deployment):
            for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = container.get(probe_name, {}).get("httpGet")
                if probe is None:
                    problems.append(f"{name}: {probe_name} is not an httpGet probe")
                    continue
                port = _resolve_port(container, probe["port"])
                if port not in service.ports:
                    problems.append(
                        f"{name}: {probe_name} port {probe['port']} is not one of "
                        f"{service.ports}"
                    )
                if probe["path"] not in service.http_paths:
                    problems.append(
                        f"{name}: {probe_name} path {probe['path']} is not served "
                        f"(known: {sorted(service.http_paths)})"
                    )
            for port in container.get("ports", []):
                if port["containerPort"] not in service.ports:
                    problems.append(
                        f"{name}: containerPort {port['containerPort']} is not one of "
                        f"{service.ports}"
                    )
        readiness = (
            containers(deployment)[0].get("readinessProbe", {}).get("httpGet", {})
        )
        expected = "/health/ready" if "/health/ready" in service.http_paths else None
        if expected and readiness.get("path") != expected:
            problems.append(f"{name}: readiness probe does not use {expected}")
        liveness = containers(deployment)[0].get("livenessProbe", {}).get("httpGet", {})
        if name != "narrative-traefik" and liveness.get("path") != "/health":
            problems.append(f"{name}: liveness probe does not use /health")
    return problems


def _selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _deployment_for_service(objects: list[dict], service: dict) -> dict | None:
    selector = service["spec"].get("selector", {})
    for deployment in by_kind(objects, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if selector and _selects(selector, labels):
            return deployment
    return None


def check_services_and_pdbs(objects: list[dict]) -> list[str]:
    """Check that every Deployment has a same-named Service and a PDB that select it."""
    problems = []
    services = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Service")}
    pdbs = by_kind(objects, "PodDisruptionBudget")
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        service = services.get(name)
        if service is None:
            problems.append(f"{name}: no Service named {name}")
        elif not _selects(service["spec"]["selector"], labels):
            problems.append(f"{name}: Service {name} does not select its pods")
        covering = [
            pdb
            for pdb in pdbs
            if _selects(pdb["spec"]["selector"]["matchLabels"], labels)
        ]
        if not covering:
            problems.append(f"{name}: no PodDisruptionBudget selects its pods")
    for service in services.values():
        deployment = _deployment_for_service(objects, service)
        if deployment is None:
            problems.append(
                f"Service {service['metadata']['name']}: selects no Deployment"
            )
            continue
        container = containers(deployment)[0]
        for port in service["spec"]["ports"]:
            if _resolve_port(container, port.get("targetPort", port["port"])) is None:
                problems.append(
                    f"Service {service['metadata']['name']}: targetPort "
                    f"{port.get('targetPort')} is not a container port"
                )
    return problems


def check_scrape_services(
    objects: list[dict], scrape_ports: dict[str, int]
) -> list[str]:
    """Check that each Deployment has a headless `<name>-pods` Service for scraping.

    `scrape_ports` maps a Deployment name to the port Prometheus scrapes.
    Prometheus resolves `<name>-pods` to one address per pod, so each
    replica is scraped, and not-ready pods stay listed so they show as down.
    """
    problems = []
    services = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Service")}
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        if name not in scrape_ports:
            problems.append(f"{name}: Prometheus has no scrape target for it")
            continue
        service = services.get(f"{name}-pods")
        if service is None:
            problems.append(f"{name}: no headless Service named {name}-pods")
            continue
        spec = service["spec"]
        if spec.get("clusterIP") != "None":
            problems.append(f"Service {name}-pods: clusterIP is not None")
        if spec.get("publishNotReadyAddresses") is not True:
            problems.append(
                f"Service {name}-pods: publishNotReadyAddresses is not true"
            )
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not _selects(spec.get("selector", {}), labels):
            problems.append(f"Service {name}-pods: does not select the pods of {name}")
        container = containers(deployment)[0]
        targets = {
            _resolve_port(container, port.get("targetPort", port["port"]))
            for port in spec.get("ports", [])
        }
        if scrape_ports[name] not in targets:
            problems.append(
                f"Service {name}-pods: no port reaches the scraped port "
                f"{scrape_ports[name]}"
            )
    return problems


def _service_port(objects: list[dict], name: str, port: int) -> str | None:
    """Return a problem when Service `name` lacks `port`, else None."""
    services = {obj["metadata"]["name"]: obj for obj in by_kind(objects, "Service")}
    service = services.get(name)
    if service is None:
        return f"Service {name} does not exist"
    if port not in {p["port"] for p in service["spec"]["ports"]}:
        return f"Service {name} has no port {port}"
    return None


def check_routes(objects: list[dict], services: dict[str, Service]) -> list[str]:
    """Check IngressRoute backends and the ForwardAuth address against Services."""
    problems = []
    for route in by_kind(objects, "IngressRoute"):
        for rule in route["spec"]["routes"]:
            for backend in rule["services"]:
                problem = _service_port(objects, backend["name"], backend["port"])
                if problem:
                    problems.append(f"route {rule['match']}: {problem}")
            for path in re.findall(r"Path\(`([^`]+)`\)", rule["match"]):
                backend_names = {backend["name"] for backend in rule["services"]}
                for name in backend_names:
                    if name in services and path not in services[name].http_paths:
                        problems.append(f"route Path({path}) is not served by {name}")
    for middleware in by_kind(objects, "Middleware"):
        auth = middleware["spec"].get("forwardAuth")
        if auth is None:
            continue
        match = re.fullmatch(
            r"http://([a-z0-9-]+)(?:\.[a-z0-9.-]+)?:(\d+)(/.*)", auth["address"]
        )
        if match is None:
            problems.append(
                f"forwardAuth address {auth['address']} is not http://host:port/path"
            )
            continue
        host, port, path = match.group(1), int(match.group(2)), match.group(3)
        problem = _service_port(objects, host, port)
        if problem:
            problems.append(f"forwardAuth: {problem}")
        if host in services and path not in services[host].http_paths:
            problems.append(f"forwardAuth path {path} is not served by {host}")
    return problems


def check_scaling(objects: list[dict]) -> list[str]:
    """Check HPAs and the KEDA ScaledObject point at Deployments that exist."""
    problems = []
    deployments = {obj["metadata"]["name"] for obj in by_kind(objects, "Deployment")}
    hpa_targets = {}
    for hpa in by_kind(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]["name"]
        hpa_targets[target] = hpa
        if target not in deployments:
            problems.append(
                f"HPA {hpa['metadata']['name']}: Deployment {target} does not exist"
            )
    inference = hpa_targets.get("narrative-inference")
    if inference is None:
        problems.append("narrative-inference has no HPA")
    else:
        metrics = [
            m["resource"]["name"]
            for m in inference["spec"]["metrics"]
            if m["type"] == "Resource"
        ]
        if "cpu" not in metrics:
            problems.append("narrative-inference HPA does not scale on CPU")
    for name in (
        "narrative-gateway",
        "narrative-datasets",
        "narrative-training",
        "narrative-ai-analysis",
        "narrative-traefik",
    ):
        if name not in hpa_targets:
            problems.append(f"{name} has no HPA")
    scaled = by_kind(objects, "ScaledObject")
    worker_scalers = [
        s
        for s in scaled
        if s["spec"]["scaleTargetRef"]["name"] == "narrative-training-worker"
    ]
    if not worker_scalers:
        problems.append("narrative-training-worker has no KEDA ScaledObject")
    if "narrative-training-worker" in hpa_targets:
        problems.append(
            "narrative-training-worker has an HPA as well as a ScaledObject"
        )
    for scaler in scaled:
        if scaler["spec"]["scaleTargetRef"]["name"] not in deployments:
            problems.append(
                f"ScaledObject {scaler['metadata']['name']}: target does not exist"
            )
    return problems


def check_secrets(objects: list[dict]) -> list[str]:
    """Check that no Secret values are rendered and only known Secrets are read."""
    problems = []
    for obj in objects:
        if obj["kind"] == "Secret":
            problems.append(
                f"Secret {obj['metadata']['name']} is committed with values"
            )
    for deployment in by_kind(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        for container in containers(deployment):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref["name"] not in {"narrative-secrets", "narrative-openai"}:
                    problems.append(f"{name}: reads unknown Secret {ref['name']}")
                secret_like = re.search(r"(?i)password|secret|token|key", env["name"])
                if "value" in env and secret_like:
                    problems.append(f"{name}: {env['name']} has a literal value")
    return problems


def check_network_policies(objects: list[dict]) -> list[str]:
    """Check default deny, DNS egress and that datastores admit only workloads."""
    problems = []
    policies = {
        obj["metadata"]["name"]: obj for obj in by_kind(objects, "NetworkPolicy")
    }
    deny = [
        p
        for p in policies.values()
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    if not deny:
        problems.append("no default-deny NetworkPolicy for ingress and egress")
    dns = [
        p
        for p in policies.values()
        if p["spec"]["podSelector"] == {}
        and any(
            {"protocol": "UDP", "port": 53} in rule.get("ports", [])
            for rule in p["spec"].get("egress", [])
        )
    ]
    if not dns:
        problems.append("no NetworkPolicy allows DNS (UDP 53) egress for every pod")
    datastore = [
        p
        for p in policies.values()
        if p["spec"]["podSelector"]
        .get("matchLabels", {})
        .get("app.kubernetes.io/component")
        == "datastore"
    ]
    if not datastore:
        problems.append("no NetworkPolicy restricts ingress to datastores")
    for policy in datastore:
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer or "ipBlock" in peer:
                    problems.append(
                        "datastores admit traffic from outside the services"
                    )
                expressions = peer.get("podSelector", {}).get("matchExpressions", [])
                allowed = {v for e in expressions for v in e.get("values", [])}
                if not expressions or allowed - {"edge", "api", "worker"}:
                    problems.append("datastores admit pods other than the services")
    return problems


def check_namespace(objects: list[dict], namespace: str) -> list[str]:
    """Check every namespaced object is in `namespace`."""
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    return [
        f"{obj['kind']} {obj['metadata']['name']} is in namespace "
        f"{obj['metadata'].get('namespace')!r}, not {namespace!r}"
        for obj in objects
        if obj["kind"] not in cluster_scoped
        and obj["metadata"].get("namespace") != namespace
    ]
