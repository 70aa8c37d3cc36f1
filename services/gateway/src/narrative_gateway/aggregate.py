"""Views over every service: health, one OpenAPI document and all metrics."""

import asyncio
import json
import math
from typing import Any

import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families

from narrative_common.metrics import DEPENDENCY_METRICS

log = structlog.stdlib.get_logger(__name__)

PUBLIC_PREFIX = "/api/v1/"
SCHEMA_REF = "#/components/schemas/"


class Services:
    """The services behind the gateway, by name and base URL."""

    def __init__(self, urls: dict[str, str], timeout_seconds: float) -> None:
        self.urls = urls
        self.client = httpx.AsyncClient(timeout=timeout_seconds)

    async def aclose(self) -> None:
        await self.client.aclose()

    def health_check(self, name: str):
        async def check() -> dict:
            with DEPENDENCY_METRICS.track(name, "GET"):
                response = await self.client.get(f"{self.urls[name]}/health/detailed")
            report = response.json()
            if response.status_code not in (200, 503) or "status" not in report:
                raise RuntimeError(f"unexpected response {response.status_code}")
            return report

        return check

    async def _fetch_all(self, path: str) -> dict[str, httpx.Response | Exception]:
        async def fetch(name: str) -> httpx.Response | Exception:
            try:
                with DEPENDENCY_METRICS.track(name, "GET"):
                    response = await self.client.get(self.urls[name] + path)
                    response.raise_for_status()
                return response
            except httpx.HTTPError as exc:
                return exc

        names = list(self.urls)
        results = await asyncio.gather(*(fetch(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def openapi(self, gateway_doc: dict) -> dict:
        """Merge the services' public paths and schemas into one document."""
        merged = {
            "openapi": gateway_doc.get("openapi", "3.1.0"),
            "info": {
                "title": "Narrative Modeling API",
                "version": gateway_doc["info"]["version"],
                "description": (
                    "Upload a table, read its profile and narrative, train a model "
                    "and get predictions. Every /api/v1 call needs an API key in the "
                    "X-API-Key header."
                ),
            },
            "paths": {},
            "components": {
                "schemas": {},
                "securitySchemes": {
                    "APIKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
                },
            },
            "security": [{"APIKey": []}],
            "x-unavailable-services": [],
        }
        for path in ("/health", "/health/detailed"):
            if path in gateway_doc.get("paths", {}):
                merged["paths"][path] = gateway_doc["paths"][path]
        for name, result in (await self._fetch_all("/openapi.json")).items():
            if isinstance(result, Exception):
                log.warning(
                    "gateway.docs.service_unavailable", target=name, error=str(result)
                )
                merged["x-unavailable-services"].append(name)
                continue
            _merge_service_doc(merged, name, result.json())
        for schema_name, schema in (
            gateway_doc.get("components", {}).get("schemas", {}).items()
        ):
            merged["components"]["schemas"].setdefault(schema_name, schema)
        return merged

    async def metrics_text(self, own_text: str) -> str:
        """Return every service's samples and the gateway's, labelled by service."""
        texts = {"gateway": own_text}
        for name, result in (await self._fetch_all("/metrics")).items():
            if isinstance(result, Exception):
                log.warning(
                    "gateway.metrics.service_unavailable",
                    target=name,
                    error=str(result),
                )
                continue
            texts[name] = result.text
        return merge_expositions(texts)


def _merge_service_doc(merged: dict, service: str, doc: dict) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    renames = {}
    for schema_name, schema in schemas.items():
        existing = merged["components"]["schemas"].get(schema_name)
        if existing is not None and existing != schema:
            renames[schema_name] = f"{service.capitalize()}{schema_name}"
    text = json.dumps(doc)
    for old, new in renames.items():
        text = text.replace(f'"{SCHEMA_REF}{old}"', f'"{SCHEMA_REF}{new}"')
    doc = json.loads(text)
    for schema_name, schema in doc.get("components", {}).get("schemas", {}).items():
        merged["components"]["schemas"][renames.get(schema_name, schema_name)] = schema
    for path, item in doc.get("paths", {}).items():
        if path.startswith(PUBLIC_PREFIX):
            for operation in item.values():
                if isinstance(operation, dict):
                    operation.setdefault("tags", [service])
            merged["paths"][path] = item


def _format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def merge_expositions(texts: dict[str, str]) -> str:
    """Merge Prometheus text expositions, adding a `service` label to every sample.

    Families with one name across services are written once, so the output
    stays valid exposition text.
    """
    families: dict[str, dict[str, Any]] = {}
    for service, text in texts.items():
        for family in text_string_to_metric_families(text):
            entry = families.setdefault(
                family.name,
                {"type": family.type, "help": family.documentation, "samples": []},
            )
            for sample in family.samples:
                labels = {"service": service, **sample.labels}
                entry["samples"].append((sample.name, labels, sample.value))
    lines = []
    for name, entry in families.items():
        metric_type = "untyped" if entry["type"] == "unknown" else entry["type"]
        exposed = name + "_total" if metric_type == "counter" else name
        lines.append(f"# HELP {exposed} {_escape(entry['help'])}")
        lines.append(f"# TYPE {exposed} {metric_type}")
        for sample_name, labels, value in entry["samples"]:
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{sample_name}{{{rendered}}} {_format_value(value)}")
    return "\n".join(lines) + "\n"
