"""How fast an Arch runs on a device: ONNX export, TVM/ONNX Runtime backends, profiler actors."""

from .broker import (
    BROKER_NAME,
    ProfilerBroker,
    get_broker,
    measure_latency,
    measure_model_latency,
    predict_latency,
    running_broker,
    start_broker,
    training_turn,
)
from .cache import LatencyCache, cache_key
from .core_gate import CoreGate
from .devices import Device, RpcEndpoint, local_cpu, local_gpu, resolve_device, rpc_device
from .latency import Latency, MeasureProtocol
from .predictor import LatencyPredictor, Prediction
from .profiler import BACKENDS, DeviceProfiler
from .tvm_backend import TuningSettings

__all__ = [
    "BACKENDS",
    "BROKER_NAME",
    "CoreGate",
    "Device",
    "DeviceProfiler",
    "Latency",
    "LatencyCache",
    "LatencyPredictor",
    "MeasureProtocol",
    "Prediction",
    "ProfilerBroker",
    "RpcEndpoint",
    "TuningSettings",
    "cache_key",
    "get_broker",
    "local_cpu",
    "local_gpu",
    "measure_latency",
    "measure_model_latency",
    "predict_latency",
    "resolve_device",
    "rpc_device",
    "running_broker",
    "start_broker",
    "training_turn",
]
