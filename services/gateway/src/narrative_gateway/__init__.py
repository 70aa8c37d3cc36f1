"""The gateway app beside Traefik: API keys, ForwardAuth, merged docs and health."""

__version__ = "0.1.0"
