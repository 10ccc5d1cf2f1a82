"""Python side of Sjd2Onnx: model definition, tiny test models and the ONNX exporter."""
