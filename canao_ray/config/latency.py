"""The latency section: the device, the backend, the budget, and how measurements are taken."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator

from device_profilers import (
    BACKENDS,
    KNOWN_DEVICES,
    Device,
    LatencyPredictor,
    MeasureProtocol,
    RpcEndpoint,
    TuningSettings,
    check_backend,
    resolve_device,
    rpc_device,
)

from .errors import ConfigError
from .sections import Section


class RpcSettings(Section):
    """A remote device reached through a TVM RPC tracker (see ``device_profilers.rpc_device``)."""

    tracker: StrictStr = Field(description="the tracker as host:port")
    key: StrictStr = Field(description="the key the device registered with")
    num_threads: StrictInt = Field(4, gt=0, description="threads the device runs with")
    target: dict[str, Any] | None = Field(None, description="the device's TVM target dict (unset: this machine's CPU)")
    cc: StrictStr | None = Field(None, description="cross compiler that links libraries for the device")

    @model_validator(mode="after")
    def _tracker_is_an_address(self) -> RpcSettings:
        RpcEndpoint.from_address(self.tracker, self.key)
        return self


class PredictorSettings(Section):
    """The online latency model that skips measuring a candidate it is sure is over the budget:
    once it has seen ``min_measurements`` architectures, a candidate whose prediction stays
    over the budget even ``z`` standard deviations lower is reported infeasible unmeasured."""

    min_measurements: StrictInt = Field(
        LatencyPredictor.MIN_MEASUREMENTS,
        ge=LatencyPredictor.MIN_MEASUREMENTS,
        description="distinct architectures measured before it speaks (its coefficients plus one, or its error cannot be estimated)",
    )
    z: StrictFloat = Field(2.0, gt=0, description="standard deviations of margin")


class LatencySettings(Section):
    """Where and how latency is measured, and the hard budget a candidate must meet."""

    budget_ms: StrictFloat = Field(
        1.0, gt=0, json_schema_extra={"unit": "milliseconds"}, description="the latency budget"
    )
    device: StrictStr = Field("local-cpu", description=f"{', '.join(KNOWN_DEVICES)}, or any name with rpc")
    backend: Literal[BACKENDS] = Field("tvm", title="backend", description="the runtime latency is measured with")
    batch: StrictInt = Field(1, gt=0, description="batch size latency is measured at")
    num_threads: StrictInt | None = Field(None, gt=0, description="threads of a local device (unset: every core)")
    use_cache: StrictBool = Field(True, description="serve latencies measured before from the cache")
    tuning: TuningSettings = Field(
        default_factory=TuningSettings, description="MetaSchedule's budget for new operator shapes"
    )
    protocol: MeasureProtocol = Field(default_factory=MeasureProtocol, description="how each latency is measured")
    rpc: RpcSettings | None = Field(None, description="a remote device behind a TVM RPC tracker")
    resources: dict[str, Annotated[StrictInt, Field(gt=0)] | Annotated[StrictFloat, Field(gt=0)]] = Field(
        default_factory=dict, description="Ray custom resources the device's profiler needs"
    )
    replicas: StrictInt = Field(
        1,
        gt=0,
        description="identical devices under this name, measured in parallel: boards behind one rpc key, "
        "or Ray nodes that each offer the resources once",
    )
    replica_tolerance: StrictFloat = Field(
        0.1,
        gt=0,
        description="a replica whose calibration time is further than this share from the pool's median is "
        "flagged in the report",
    )
    predictor: PredictorSettings | None = Field(
        None, description="skip measuring candidates surely over the budget; unset: measure all"
    )

    @model_validator(mode="after")
    def _device_and_backend_fit(self) -> LatencySettings:
        if self.rpc is not None:
            check_backend(self.backend, remote=True)
        elif self.device not in KNOWN_DEVICES:
            raise ValueError(
                f"device: unknown device {self.device!r}; known devices: {', '.join(KNOWN_DEVICES)} (or add rpc: for a remote one)"
            )
        return self

    def make_device(self) -> Device:
        """The device to measure on: a remote one when ``rpc`` is set, else a known local one."""
        rpc = self.rpc
        if rpc is not None:
            return rpc_device(
                self.device, rpc.tracker, rpc.key, rpc.num_threads, rpc.target, rpc.cc, self.resources, self.replicas
            )
        try:
            return resolve_device(self.device, self.num_threads).with_resources(self.resources, self.replicas)
        except ValueError as error:
            raise ConfigError(f"latency.device: {error}") from None
