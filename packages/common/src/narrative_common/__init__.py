"""Code every Narrative Modeling service shares: settings, logging, errors,
metrics, health checks and the clients for MongoDB, Redis and S3.

This package is a leaf: it never imports a service package.
"""

__version__ = "0.1.0"
