from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from narrative_gateway.aggregate import _merge_service_doc, merge_expositions


def _exposition(value: float) -> str:
    registry = CollectorRegistry()
    counter = Counter(
        "http_requests_total", "Requests.", ["endpoint"], registry=registry
    )
    counter.labels("/a").inc(value)
    histogram = Histogram(
        "latency_seconds", "Latency.", buckets=(0.1, 1), registry=registry
    )
    histogram.observe(0.05)
    return generate_latest(registry).decode()


def test_merge_expositions_labels_each_service():
    merged = merge_expositions({"datasets": _exposition(2), "training": _exposition(3)})

    families = {f.name: f for f in text_string_to_metric_families(merged)}
    samples = [
        s for s in families["http_requests"].samples if s.name.endswith("_total")
    ]
    by_service = {s.labels["service"]: s.value for s in samples}
    assert by_service == {"datasets": 2.0, "training": 3.0}
    assert merged.count("# TYPE http_requests_total counter") == 1


def test_merge_expositions_keeps_histogram_buckets():
    merged = merge_expositions({"inference": _exposition(1)})

    families = {f.name: f for f in text_string_to_metric_families(merged)}
    buckets = [
        s for s in families["latency_seconds"].samples if s.name.endswith("_bucket")
    ]
    assert {s.labels["le"] for s in buckets} == {"0.1", "1.0", "+Inf"}
    assert all(s.labels["service"] == "inference" for s in buckets)


def test_openapi_merge_renames_conflicting_schemas():
    merged = {"paths": {}, "components": {"schemas": {"Item": {"type": "string"}}}}
    doc = {
        "paths": {
            "/api/v1/things": {
                "get": {"responses": {"200": {"$ref": "#/components/schemas/Item"}}}
            },
            "/internal/v1/things": {"get": {}},
        },
        "components": {"schemas": {"Item": {"type": "integer"}}},
    }

    _merge_service_doc(merged, "datasets", doc)

    assert merged["components"]["schemas"]["Item"] == {"type": "string"}
    assert merged["components"]["schemas"]["DatasetsItem"] == {"type": "integer"}
    ref = merged["paths"]["/api/v1/things"]["get"]["responses"]["200"]["$ref"]
    assert ref == "#/components/schemas/DatasetsItem"
    assert "/internal/v1/things" not in merged["paths"]
