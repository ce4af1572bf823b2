"""How a latency is taken: the protocol and its timing loops, the quiet-core probe, the core gate."""

from .core_gate import CoreGate
from .protocol import MeasureProtocol, in_blocks, summarize, time_callable, warm_up
from .sync_probe import SyncProbe

__all__ = ["CoreGate", "MeasureProtocol", "SyncProbe", "in_blocks", "summarize", "time_callable", "warm_up"]
