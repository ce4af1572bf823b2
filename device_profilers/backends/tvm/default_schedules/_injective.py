"""The rule for kernels of elementwise and layout work."""

from __future__ import annotations

from tvm import s_tir, tirx
from tvm.s_tir.dlight.analysis import normalize_prim_func
from tvm.s_tir.dlight.base import try_inline
from tvm.s_tir.dlight.cpu.base import CPUScheduleRule

from ._common import vector_lanes

#: Iterations per parallel chunk when a kernel has a single loop to split.
_CHUNK = 256


class Injective(CPUScheduleRule):
    """A kernel of injective blocks only, inlined as far as they go (a ``Split`` keeps one
    block per output): in each remaining loop nest every loop but the innermost fused and
    run in parallel, the innermost vectorised to the target's width."""

    def apply(self, func: tirx.PrimFunc, target, _tunable: bool) -> s_tir.Schedule | None:
        if not isinstance(func, tirx.PrimFunc) or not self.is_target_available(target):
            return None
        sch = s_tir.Schedule(func)
        blocks = normalize_prim_func(sch)
        if not blocks or not all(block.is_injective() for block in blocks):
            return None
        for block in try_inline(sch, blocks):
            loops = sch.get_loops(block.block_rv)
            if not loops:
                continue
            if len(loops) > 1:
                sch.parallel(sch.fuse(*loops[:-1]))
                inner = loops[-1]
            else:
                outer, inner = sch.split(loops[0], factors=[None, _CHUNK])
                sch.parallel(outer)
            _, vector = sch.split(inner, factors=[None, vector_lanes(target)])
            sch.vectorize(vector)
        return sch
