"""How fast an Arch runs on a device: ONNX export, TVM/ONNX Runtime backends, profiler actors."""

from .broker import BROKER_NAME, ProfilerBroker, get_broker, measure_latency, start_broker
from .cache import LatencyCache, cache_key
from .devices import Device, RpcEndpoint, local_cpu, resolve_device, rpc_device
from .latency import Latency, MeasureProtocol
from .profiler import BACKENDS, DeviceProfiler
from .tvm_backend import TuningSettings

__all__ = [
    "BACKENDS",
    "BROKER_NAME",
    "Device",
    "DeviceProfiler",
    "Latency",
    "LatencyCache",
    "MeasureProtocol",
    "ProfilerBroker",
    "RpcEndpoint",
    "TuningSettings",
    "cache_key",
    "get_broker",
    "local_cpu",
    "measure_latency",
    "resolve_device",
    "rpc_device",
    "start_broker",
]
