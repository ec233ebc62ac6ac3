"""Reading ONNX model files into network files (the importer's package)."""
