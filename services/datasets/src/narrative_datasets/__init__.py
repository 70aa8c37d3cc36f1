"""Datasets service: uploads, parsing, type inference, profiles and previews."""

__version__ = "0.1.0"
