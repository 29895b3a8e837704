"""Edge deployment: Inspector checkpoints exported to ONNX (fp32, or int8 calibrated on a project's
own images) with their metadata inside, and run by onnxruntime without PyTorch's autograd or Python
model code. `onnx_export` writes them; `onnx_model` reads, checks and runs them."""
