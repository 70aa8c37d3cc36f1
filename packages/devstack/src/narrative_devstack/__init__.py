"""The local stack: real MongoDB wire server, Redis, S3, Traefik and the services.

`make stack` runs it in the foreground; the test suite starts the same
stack on free ports through the pytest plugin in this package.
"""

from narrative_devstack.stack import Stack, StackConfig

__all__ = ["Stack", "StackConfig"]
