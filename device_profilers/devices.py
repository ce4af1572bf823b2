"""Device profiles: what a profiler compiles for and how many threads it measures with."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Device:
    """A place where latency is measured.

    ``target`` is a TVM target dict (TVM 0.2x refuses the old string form);
    ``num_threads`` is fixed per device because every runtime here (TVM, ONNX Runtime,
    PyTorch) otherwise picks its own count, and TVM picked one thread on our machines.
    ``resources`` are Ray custom resources the profiler actor asks for, which places
    it on the node that has the device on a cluster.
    """

    name: str
    target: dict[str, Any]
    num_threads: int
    resources: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.num_threads <= 0:
            raise ValueError(f"device {self.name}: num_threads must be positive")

    def __hash__(self) -> int:
        return hash(self.name)


def local_cpu(num_threads: int | None = None) -> Device:
    """The CPU of the machine the profiler runs on, with LLVM's name for its micro-architecture."""
    from tvm.target import codegen

    threads = num_threads or len(os.sched_getaffinity(0))
    target = {"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu(), "num-cores": threads}
    return Device(name="local-cpu", target=target, num_threads=threads)


KNOWN_DEVICES = ("local-cpu",)


def resolve_device(name: str, num_threads: int | None = None) -> Device:
    """The Device named ``name``; raises with the list of known names otherwise."""
    if name == "local-cpu":
        return local_cpu(num_threads)
    raise ValueError(f"unknown device {name!r}; known devices: {', '.join(KNOWN_DEVICES)}")
