"""Schedules for the kernels MetaSchedule does not tune (softmax, layer norm, transposes).

Tuning spends its budget on the matmuls that carry the FLOPs; the rest used to reach
LLVM as TVM's plain loop nests, one thread and no vectors, and took a sixth of a
MiniLM-sized model's time. DLight's CPU rules schedule them without tuning: its
``Reduction`` rule the softmax and norm kernels, and ``Injective`` below the layout and
elementwise ones. Functions the tuning database scheduled are left as they are.
"""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.s_tir import dlight
from tvm.s_tir.dlight.analysis import normalize_prim_func
from tvm.s_tir.dlight.base import try_inline
from tvm.s_tir.dlight.cpu.base import CPUScheduleRule
from tvm.target.codegen import llvm_get_vector_width

#: Iterations per parallel chunk when a kernel has a single loop to split.
_CHUNK = 256


class Injective(CPUScheduleRule):
    """A kernel of injective blocks only, inlined into one loop nest: every loop but the
    innermost fused and run in parallel, the innermost vectorised to the target's width."""

    def apply(self, func: tirx.PrimFunc, target, _tunable: bool) -> s_tir.Schedule | None:
        if not isinstance(func, tirx.PrimFunc) or not self.is_target_available(target):
            return None
        sch = s_tir.Schedule(func)
        blocks = normalize_prim_func(sch)
        if not blocks or not all(block.is_injective() for block in blocks):
            return None
        blocks = try_inline(sch, blocks)
        if len(blocks) != 1:
            return None
        loops = sch.get_loops(blocks[0].block_rv)
        if not loops:
            return None
        if len(loops) > 1:
            sch.parallel(sch.fuse(*loops[:-1]))
            inner = loops[-1]
        else:
            outer, inner = sch.split(loops[0], factors=[None, _CHUNK])
            sch.parallel(outer)
        lanes = max(llvm_get_vector_width(target) // 32, 4)
        _, vector = sch.split(inner, factors=[None, lanes])
        sch.vectorize(vector)
        return sch


def schedule_untuned():
    """The pass that schedules every kernel still unscheduled after the database applied."""
    return dlight.ApplyDefaultSchedule(dlight.cpu.Reduction(), Injective())
