"""Device profiles: what a profiler compiles for, where it runs it, and with how many threads."""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass, field
from typing import Any

#: Environment of a local profiler's TVM runtime: its pool's threads unpinned, since pinned
#: ones could share a core with the calling thread for a whole measurement.
LOCAL_RUNTIME_ENV = {"TVM_BIND_THREADS": "0"}


@dataclass(frozen=True)
class RpcEndpoint:
    """How to reach a remote device: a TVM RPC tracker and the key the device registered.

    A phone or a board runs TVM's RPC server (``python -m tvm.exec.rpc_server --tracker
    HOST:PORT --key KEY``, or the Android RPC app) and registers with the tracker; the
    profiler asks the tracker for a session by key, so several devices of one kind can
    serve one key. Only this tracker is ever contacted.
    """

    tracker_host: str
    tracker_port: int
    key: str
    session_timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if not 0 < self.tracker_port < 65536:
            raise ValueError(f"RPC tracker port must be within 1-65535, got {self.tracker_port}")
        if not self.key:
            raise ValueError("RPC device key must not be empty")

    @classmethod
    def from_address(cls, tracker: str, key: str) -> RpcEndpoint:
        """The endpoint of ``key`` behind a tracker given as ``host:port``."""
        host, _, port = tracker.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"RPC tracker must be given as host:port, got {tracker!r}")
        return cls(host, int(port), key)

    @property
    def address(self) -> str:
        return f"{self.tracker_host}:{self.tracker_port}"

    def check_reachable(self, timeout_s: float = 5.0) -> None:
        """Fail fast, with what to do, when the tracker does not answer (TVM retries for minutes)."""
        try:
            socket.create_connection((self.tracker_host, self.tracker_port), timeout=timeout_s).close()
        except OSError as error:
            raise ConnectionError(
                f"cannot reach the TVM RPC tracker at {self.address} ({error.strerror or error}); "
                "start it with `python -m tvm.exec.rpc_tracker` or correct the tracker address"
            ) from None

    def connect(self):
        """A session on one device of this key (waits while all of them are busy)."""
        from tvm import rpc

        tracker = rpc.connect_tracker(self.tracker_host, self.tracker_port)
        return tracker.request(self.key, priority=1, session_timeout=self.session_timeout_s)


@dataclass(frozen=True)
class Device:
    """A place where latency is measured.

    ``target`` is a TVM target dict (TVM 0.2x refuses the old string form);
    ``num_threads`` is fixed per device because every runtime here (TVM, ONNX Runtime,
    PyTorch) otherwise picks its own count, and TVM picked one thread on our machines.
    ``resources`` are Ray custom resources the profiler actor asks for, which places
    it on the node that has the device on a cluster; ``num_gpus`` is what it asks of
    Ray's GPU resource (Ray accounts GPUs apart from custom resources). A device with
    ``rpc`` is remote:
    models are cross-compiled here (``cc`` names the cross compiler used to link the
    shared library, e.g. the Android NDK's clang) and timed there.

    ``replicas`` identical devices answer to the name (boards behind one RPC key, or Ray
    nodes that each offer one unit of ``resources``): the broker keeps a profiler for
    each and measures on them in parallel.
    """

    name: str
    target: dict[str, Any]
    num_threads: int
    resources: dict[str, float] = field(default_factory=dict)
    rpc: RpcEndpoint | None = None
    cc: str | None = None
    num_gpus: int = 0
    replicas: int = 1

    def __post_init__(self) -> None:
        if self.num_threads <= 0:
            raise ValueError(f"device {self.name}: num_threads must be positive")
        if self.replicas <= 0:
            raise ValueError(f"device {self.name}: replicas must be positive")
        if self.replicas > 1 and self.rpc is None and not self.resources:
            raise ValueError(
                f"device {self.name}: {self.replicas} replicas of a local device need a Ray resource that each "
                "node with one offers once (resources), or they would time on the same cores"
            )

    def with_resources(self, resources: dict[str, float], replicas: int = 1) -> Device:
        """This device, its profiler also asking Ray for ``resources``, in ``replicas``."""
        return dataclasses.replace(self, resources={**self.resources, **resources}, replicas=replicas)

    @property
    def runtime_kind(self) -> str:
        """The runtime device models run on: ``"cuda"`` for a CUDA target, else ``"cpu"``."""
        return "cuda" if self.target.get("kind") == "cuda" else "cpu"

    def __hash__(self) -> int:
        return hash(self.name)


def host_target(num_threads: int) -> dict[str, Any]:
    """TVM target dict for this machine's CPU, with LLVM's name for its micro-architecture."""
    from tvm.target import codegen

    return {"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu(), "num-cores": num_threads}


def local_cpu(num_threads: int | None = None) -> Device:
    """The CPU of the machine the profiler runs on."""
    threads = num_threads or len(os.sched_getaffinity(0))
    return Device(name="local-cpu", target=host_target(threads), num_threads=threads)


def local_gpu(index: int = 0, num_threads: int | None = None) -> Device:
    """CUDA GPU ``index`` of this machine; TVM detects its target (``sm_XX``) from the device.

    ``num_threads`` sizes the host side (ONNX Runtime's and PyTorch's CPU threads).
    """
    import tvm

    gpu = tvm.cuda(index)
    if not gpu.exist:
        raise ValueError(
            f"no CUDA GPU {index} on this machine (TVM sees no CUDA device); "
            "use --device local-cpu, or a machine with a GPU and its driver"
        )
    return Device(
        name="local-gpu" if index == 0 else f"local-gpu{index}",
        target=tvm.target.Target.from_device(gpu).export(),
        num_threads=num_threads or len(os.sched_getaffinity(0)),
        num_gpus=1,
    )


def rpc_device(
    name: str,
    tracker: str,
    key: str,
    num_threads: int,
    target: dict[str, Any] | None = None,
    cc: str | None = None,
    resources: dict[str, float] | None = None,
    replicas: int = 1,
) -> Device:
    """A device behind a TVM RPC tracker given as ``host:port``.

    ``target`` defaults to this machine's CPU, which is right when the "remote" device
    is this machine (tests) or one of the same kind; give the device's own target
    (e.g. ``{"kind": "llvm", "mtriple": "aarch64-linux-android", "mcpu": "cortex-a76"}``)
    and ``cc`` for a phone or a board.
    """
    return Device(
        name=name,
        target={**(target or host_target(num_threads)), "num-cores": num_threads},
        num_threads=num_threads,
        resources=resources or {},
        rpc=RpcEndpoint.from_address(tracker, key),
        cc=cc,
        replicas=replicas,
    )


KNOWN_DEVICES = ("local-cpu", "local-gpu")


def resolve_device(name: str, num_threads: int | None = None) -> Device:
    """The Device named ``name``; raises with the list of known names otherwise."""
    if name == "local-cpu":
        return local_cpu(num_threads)
    if name == "local-gpu":
        return local_gpu(0, num_threads)
    raise ValueError(f"unknown device {name!r}; known devices: {', '.join(KNOWN_DEVICES)}")
