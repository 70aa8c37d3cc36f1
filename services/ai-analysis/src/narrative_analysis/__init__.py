"""Narrative analyses of datasets and trained models."""

__version__ = "0.1.0"
