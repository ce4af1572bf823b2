"""How fast an Arch runs on a device: ONNX export, TVM / ONNX Runtime / PyTorch backends, profiler actors behind a broker."""

from . import service
from .backends import BACKENDS, check_backend
from .backends.tuning import TuningSettings
from .devices import KNOWN_DEVICES, Device, RpcEndpoint, local_cpu, local_gpu, resolve_device, rpc_device
from .latency import Latency, MeasureTarget
from .measurement import CoreGate, MeasureProtocol
from .service import *  # noqa: F403 - the service's calls are the package's

__all__ = [
    *service.__all__,
    "BACKENDS",
    "KNOWN_DEVICES",
    "CoreGate",
    "Device",
    "Latency",
    "MeasureProtocol",
    "MeasureTarget",
    "RpcEndpoint",
    "TuningSettings",
    "check_backend",
    "local_cpu",
    "local_gpu",
    "resolve_device",
    "rpc_device",
]
