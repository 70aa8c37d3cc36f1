"""The scikit-learn side of training: column selection, guards, fitting,
evaluation and ONNX export. Pure functions of a pandas DataFrame, with no I/O,
so they run in a worker thread and in unit tests alike."""
