"""Failures of a training run that an analyst can act on."""


class TrainingInputError(Exception):
    """The dataset or the request cannot be trained on; the message says why."""


class TrainingCancelled(Exception):
    """The job was cancelled while it ran."""


class ParityError(Exception):
    """ONNX predictions differ from scikit-learn's beyond the tolerance."""
