"""Generators for the Prometheus rules and configs and the Grafana dashboards.

Run `python -m monitoring.codegen` from the repository root to rewrite every
generated file under monitoring/, or add `--check` to list files that differ.
"""
