"""Schedules applied at lowering, before any task is extracted, so MetaSchedule never
spends trials on the kernels they take.

Without them, softmax, norms and transposes reached LLVM as TVM's plain loop nests (one
thread, no vectors; a sixth of a MiniLM-sized model's time), and with MetaSchedule's
matmuls after 32 trials a task BERT-base took 1.37x ONNX Runtime's time. ``Matmul`` takes the
matmuls with their epilogues (float32, and uint8 x int8 on VNNI), ``RowReduction`` the
softmax and norm kernels, ``WholeReduction`` the maximum and minimum of a tensor that
dynamic quantization takes, ``Injective`` the layout and elementwise ones; what none takes
is left to tuning.
"""

from __future__ import annotations

from tvm import tirx
from tvm.s_tir import dlight

from ._injective import Injective
from ._matmul import Matmul
from ._reductions import RowReduction, WholeReduction

#: The function attribute a scheduled kernel carries (MetaSchedule's database sets it too).
SCHEDULED = "tirx.is_scheduled"


def schedule_untuned(matmuls: bool = True):
    """The pass that schedules, without tuning, every kernel one of the rules takes; the
    matmuls too unless ``matmuls`` is False (MetaSchedule tunes them then)."""
    return dlight.ApplyDefaultSchedule(*([Matmul()] if matmuls else []), RowReduction(), WholeReduction(), Injective())


def is_scheduled(func) -> bool:
    """Whether a module function is a kernel that already has its schedule (from these rules
    or the database). MetaSchedule's extracted tasks do not carry the mark: look the
    kernel up in the module by the task's name."""
    return isinstance(func, tirx.PrimFunc) and bool(func.attrs is not None and func.attrs.get(SCHEDULED, False))


__all__ = ["SCHEDULED", "Injective", "Matmul", "RowReduction", "WholeReduction", "is_scheduled", "schedule_untuned"]
