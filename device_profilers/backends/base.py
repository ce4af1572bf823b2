"""What a backend is: something that turns an exported model into per-run timings on a device."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..devices import Device
from ..measurement import MeasureProtocol

if TYPE_CHECKING:
    from .tvm import TuningSettings


@dataclass(frozen=True)
class CompileStats:
    """What preparing a model cost before it could be timed."""

    compile_s: float
    tune_s: float = 0.0
    tuned_tasks: int = 0
    reused_tasks: int = 0
    #: Fused operators in the graph that was timed, by kind (ONNX Runtime's optimizer).
    fused_ops: tuple[tuple[str, int], ...] = ()
    #: Memory the compiled model holds while it runs: its weights and its activation
    #: storage as the compiler planned it (0 where the backend does not say).
    peak_memory_bytes: int = 0


class Backend(Protocol):
    """One way to run a model on one device. ``needs_onnx``: it times the exported graph
    (the profiler exports it first); otherwise it times the PyTorch module itself."""

    name: ClassVar[str]
    needs_onnx: ClassVar[bool]

    def measure(
        self,
        model: Any,
        onnx_path: Path | None,
        batch: int,
        seq_len: int,
        protocol: MeasureProtocol,
        before_block: Callable[[], None],
    ) -> tuple[list[list[float]], CompileStats]:
        """Per-run milliseconds by block under ``protocol``, and what preparing the model cost."""
        ...


BACKENDS = ("tvm", "ort", "ort-opt", "torch")
#: Backends that run on the profiler's host: a device reached over TVM RPC is timed with TVM.
HOST_ONLY = frozenset({"ort", "ort-opt", "torch"})


def check_backend(name: str, remote: bool = False) -> None:
    """Raise ``ValueError`` saying what to do unless backend ``name`` can time a device
    (``remote``: one reached through TVM RPC)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if remote and name in HOST_ONLY:
        raise ValueError(
            f"backend {name!r} runs on the profiler's host; a device reached through TVM RPC is measured with 'tvm'"
        )


def make_backend(name: str, device: Device, cache_dir: str | os.PathLike, tuning: TuningSettings) -> Backend:
    """Backend ``name`` for ``device``; each is imported on first use (each pulls in its runtime)."""
    check_backend(name, remote=device.rpc is not None)
    if name == "tvm":
        from .tvm import TvmBackend

        return TvmBackend(device, cache_dir, tuning)
    if name in ("ort", "ort-opt"):
        from .ort import OrtBackend, OrtOptimizedBackend

        return (OrtBackend if name == "ort" else OrtOptimizedBackend)(device)
    from .torch import TorchBackend

    return TorchBackend(device)
