"""JSON schemas for the custom resources the manifests use.

kubernetes-validate bundles schemas only for built-in kinds, so the Traefik
and KEDA objects are checked against these instead. They are written for
this project, not copied from the CRDs. Each covers only the fields these
manifests use, with the types and required fields of Traefik v3
(traefik.io/v1alpha1) and KEDA v2 (keda.sh/v1alpha1). Unknown fields are
rejected, so a misspelled key fails, and a field the manifests start to use
must be added here first.
"""

_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def _resource(api_version: str, kind: str, spec: dict) -> dict:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
        "additionalProperties": False,
    }


_DURATION = {"type": "string", "pattern": r"^[0-9]+(ms|s|m|h)$"}
_REFERENCE = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
    "additionalProperties": False,
}

INGRESS_ROUTE = _resource(
    "traefik.io/v1alpha1",
    "IngressRoute",
    {
        "type": "object",
        "required": ["routes"],
        "properties": {
            "entryPoints": {"type": "array", "items": {"type": "string"}},
            "routes": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["match", "kind", "services"],
                    "properties": {
                        "kind": {"enum": ["Rule"]},
                        "match": {"type": "string", "minLength": 1},
                        "priority": {"type": "integer", "minimum": 0},
                        "middlewares": {"type": "array", "items": _REFERENCE},
                        "services": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "required": ["name", "port"],
                                "properties": {
                                    "kind": {"enum": ["Service", "TraefikService"]},
                                    "name": {"type": "string"},
                                    "namespace": {"type": "string"},
                                    "port": {"type": ["integer", "string"]},
                                    "serversTransport": {"type": "string"},
                                },
                                "additionalProperties": False,
                            },
                        },
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
)

MIDDLEWARE = _resource(
    "traefik.io/v1alpha1",
    "Middleware",
    {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {
            "headers": {
                "type": "object",
                "properties": {
                    "customRequestHeaders": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                    },
                    "customResponseHeaders": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                    },
                },
                "additionalProperties": False,
            },
            "forwardAuth": {
                "type": "object",
                "required": ["address"],
                "properties": {
                    "address": {"type": "string", "format": "uri"},
                    "trustForwardHeader": {"type": "boolean"},
                    "maxResponseBodySize": {"type": "integer", "minimum": -1},
                    "authResponseHeaders": {
                        "type": "array",
                        "items": {"type": "string"},
                    },
                    "authRequestHeaders": {
                        "type": "array",
                        "items": {"type": "string"},
                    },
                },
                "additionalProperties": False,
            },
            "rateLimit": {
                "type": "object",
                "properties": {
                    "average": {"type": "integer", "minimum": 0},
                    "period": _DURATION,
                    "burst": {"type": "integer", "minimum": 1},
                },
                "additionalProperties": False,
            },
            "buffering": {
                "type": "object",
                "properties": {
                    "maxRequestBodyBytes": {"type": "integer", "minimum": 0},
                    "memRequestBodyBytes": {"type": "integer", "minimum": 0},
                },
                "additionalProperties": False,
            },
            "replacePath": {
                "type": "object",
                "required": ["path"],
                "properties": {"path": {"type": "string", "pattern": "^/"}},
                "additionalProperties": False,
            },
            "errors": {
                "type": "object",
                "required": ["status", "service", "query"],
                "properties": {
                    "status": {
                        "type": "array",
                        "items": {
                            "type": "string",
                            "pattern": "^[1-5][0-9]{2}(-[1-5][0-9]{2})?$",
                        },
                    },
                    "service": {
                        "type": "object",
                        "required": ["name", "port"],
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer"},
                        },
                        "additionalProperties": False,
                    },
                    "query": {"type": "string", "pattern": "^/"},
                },
                "additionalProperties": False,
            },
            "retry": {
                "type": "object",
                "required": ["attempts"],
                "properties": {
                    "attempts": {"type": "integer", "minimum": 1},
                    "initialInterval": _DURATION,
                },
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    },
)

SCALED_OBJECT = _resource(
    "keda.sh/v1alpha1",
    "ScaledObject",
    {
        "type": "object",
        "required": ["scaleTargetRef", "triggers"],
        "properties": {
            "scaleTargetRef": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "name": {"type": "string"},
                },
                "additionalProperties": False,
            },
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "pollingInterval": {"type": "integer", "minimum": 1},
            "cooldownPeriod": {"type": "integer", "minimum": 0},
            "advanced": {
                "type": "object",
                "properties": {
                    "horizontalPodAutoscalerConfig": {
                        "type": "object",
                        "properties": {"behavior": {"type": "object"}},
                        "additionalProperties": False,
                    }
                },
                "additionalProperties": False,
            },
            "triggers": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["type", "metadata"],
                    "properties": {
                        "type": {"type": "string"},
                        "name": {"type": "string"},
                        # KEDA reads every trigger metadata value as a string.
                        "metadata": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                        "authenticationRef": _REFERENCE,
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
)

SERVERS_TRANSPORT = _resource(
    "traefik.io/v1alpha1",
    "ServersTransport",
    {
        "type": "object",
        "properties": {
            "forwardingTimeouts": {
                "type": "object",
                "properties": {
                    "dialTimeout": _DURATION,
                    "responseHeaderTimeout": _DURATION,
                    "idleConnTimeout": _DURATION,
                },
                "additionalProperties": False,
            },
            "maxIdleConnsPerHost": {"type": "integer", "minimum": 0},
        },
        "additionalProperties": False,
    },
)

CRD_SCHEMAS = {
    ("traefik.io/v1alpha1", "ServersTransport"): SERVERS_TRANSPORT,
    ("traefik.io/v1alpha1", "IngressRoute"): INGRESS_ROUTE,
    ("traefik.io/v1alpha1", "Middleware"): MIDDLEWARE,
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
}
