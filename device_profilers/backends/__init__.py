"""The runtimes a latency is measured with: TVM (the compiler in the loop), ONNX Runtime and PyTorch eager as baselines."""

from .base import BACKENDS, HOST_ONLY, Backend, CompileStats, check_backend, make_backend

__all__ = ["BACKENDS", "HOST_ONLY", "Backend", "CompileStats", "check_backend", "make_backend"]
