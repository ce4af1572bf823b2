"""The measuring service on Ray: profiler actors behind one named broker, its cache and latency model, and the client calls."""

from .broker import ProfilerBroker
from .cache import LatencyCache
from .client import (
    BROKER_NAME,
    calibrate_replicas,
    get_broker,
    measure_latencies,
    measure_latency,
    measure_model_latency,
    predict_latency,
    profile_arch,
    running_broker,
    start_broker,
    training_turn,
)
from .predictor import LatencyPredictor, Prediction
from .profiler import FAIL_BUILD_ENV, DeviceProfiler

__all__ = [
    "BROKER_NAME",
    "FAIL_BUILD_ENV",
    "DeviceProfiler",
    "LatencyCache",
    "LatencyPredictor",
    "Prediction",
    "ProfilerBroker",
    "calibrate_replicas",
    "get_broker",
    "measure_latencies",
    "measure_latency",
    "measure_model_latency",
    "predict_latency",
    "profile_arch",
    "running_broker",
    "start_broker",
    "training_turn",
]
