"""Inference service: ONNX models in a bounded in-memory cache, single-row and
batch predictions validated against each model's input schema.

It never imports scikit-learn: models arrive as ONNX artifacts with metadata
from the training service.
"""

__version__ = "0.1.0"
