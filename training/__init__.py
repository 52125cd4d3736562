"""Off-gateway work on anomaly models: training, ONNX export and quantisation, evaluation."""
