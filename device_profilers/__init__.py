"""How fast an Arch runs on a device: ONNX export, TVM / ONNX Runtime / PyTorch backends, profiler actors behind a broker."""

from .backends import BACKENDS, check_backend
from .backends.tuning import TuningSettings
from .devices import KNOWN_DEVICES, Device, RpcEndpoint, local_cpu, local_gpu, resolve_device, rpc_device
from .latency import Latency, MeasureTarget
from .measurement import CoreGate, MeasureProtocol
from .service import (
    BROKER_NAME,
    DeviceProfiler,
    LatencyCache,
    LatencyPredictor,
    Prediction,
    ProfilerBroker,
    get_broker,
    measure_latency,
    measure_model_latency,
    predict_latency,
    profile_arch,
    running_broker,
    start_broker,
    training_turn,
)

__all__ = [
    "BACKENDS",
    "BROKER_NAME",
    "KNOWN_DEVICES",
    "CoreGate",
    "Device",
    "DeviceProfiler",
    "Latency",
    "LatencyCache",
    "LatencyPredictor",
    "MeasureProtocol",
    "MeasureTarget",
    "Prediction",
    "ProfilerBroker",
    "RpcEndpoint",
    "TuningSettings",
    "check_backend",
    "get_broker",
    "local_cpu",
    "local_gpu",
    "measure_latency",
    "measure_model_latency",
    "predict_latency",
    "profile_arch",
    "resolve_device",
    "rpc_device",
    "running_broker",
    "start_broker",
    "training_turn",
]
