"""Benchmark code run by `python -m narrative_devstack.bench` (`make bench`)."""
