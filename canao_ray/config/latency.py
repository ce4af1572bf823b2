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


class DeviceSettings(Section):
    """Another device that latency objectives may name (see ``objectives``): a local one by
    its known name, or a remote one behind ``rpc`` under any name."""

    rpc: RpcSettings | None = Field(None, description="a remote device behind a TVM RPC tracker")
    num_threads: StrictInt | None = Field(None, gt=0, description="threads of a local device (unset: every core)")
    resources: dict[str, Annotated[StrictInt, Field(gt=0)] | Annotated[StrictFloat, Field(gt=0)]] = Field(
        default_factory=dict, description="Ray custom resources the device's profiler needs"
    )
    replicas: StrictInt = Field(1, gt=0, description="identical devices under this name, measured in parallel")


def _make_device(name: str, settings: LatencySettings | DeviceSettings, where: str) -> Device:
    """The device ``settings`` describe under ``name``: remote with ``rpc``, else a known local one."""
    rpc = settings.rpc
    if rpc is not None:
        return rpc_device(
            name, rpc.tracker, rpc.key, rpc.num_threads, rpc.target, rpc.cc, settings.resources, settings.replicas
        )
    try:
        return resolve_device(name, settings.num_threads).with_resources(settings.resources, settings.replicas)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None


class LatencySettings(Section):
    """Where and how latency is measured, and the hard budget a candidate must meet."""

    budget_ms: StrictFloat = Field(
        1.0,
        gt=0,
        json_schema_extra={"unit": "milliseconds"},
        description="the budget of latency.device: in the default objectives, and for a bare latency in objectives",
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
        None, description="skip measuring candidates surely over the budget of the first latency; unset: measure all"
    )
    devices: dict[str, DeviceSettings] = Field(
        default_factory=dict,
        description="more devices, by name, for latency objectives on several devices (see objectives)",
    )

    @model_validator(mode="after")
    def _device_and_backend_fit(self) -> LatencySettings:
        if self.rpc is not None:
            check_backend(self.backend, remote=True)
        for name, settings in [(self.device, self), *self.devices.items()]:
            if settings.rpc is None and name not in KNOWN_DEVICES:
                where = "device" if settings is self else f"devices.{name}"
                raise ValueError(
                    f"{where}: unknown device {name!r}; known devices: {', '.join(KNOWN_DEVICES)} (or add rpc: for a remote one)"
                )
        if self.device in self.devices:
            raise ValueError(f"devices.{self.device}: that is latency.device already; list only the other devices")
        return self

    def make_device(self, name: str | None = None) -> Device:
        """Device ``name`` (unset: ``device``): a remote one when its ``rpc`` is set, else a known local one."""
        if name is None or name == self.device:
            return _make_device(self.device, self, "latency.device")
        return _make_device(name, self.devices[name], f"latency.devices.{name}")

    def device_names(self) -> list[str]:
        """``device``, then the other devices."""
        return [self.device, *self.devices]
