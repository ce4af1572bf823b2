"""The rule for matmuls and their epilogues: register tiles over repacked weights."""

from __future__ import annotations

from typing import NamedTuple

from tvm import s_tir, tirx
from tvm.s_tir.dlight.analysis import normalize_prim_func
from tvm.s_tir.dlight.base import try_inline_contiguous_spatial
from tvm.s_tir.dlight.cpu.base import CPUScheduleRule
from tvm.s_tir.schedule.schedule import ScheduleError
from tvm.target.codegen import target_has_features

from ..intrinsics import vnni_dot_intrinsic
from ._common import vector_lanes

#: Marks the block that rewrites a weight's layout; TVM lifts it out of the kernel and runs
#: it once on the weights (``SplitLayoutRewritePreproc``, ``LiftTransformParams``).
_LAYOUT_REWRITE = "meta_schedule.layout_rewrite_preproc"
#: Output rows each register tile computes; its columns are one to three vector registers.
_TILE_ROWS = 8


class Matmul(CPUScheduleRule):
    """``C[..., i, j] = sum_k A[..., i, k] * B[..., k, j]`` with elementwise work after it
    (bias, GELU, residual add): register-tiled, every tile of C parallel.

    Each tile of 8 rows by up to three vectors of columns (8 x 48 floats with AVX-512) is
    summed over the whole ``k`` in registers, the epilogue applied while the tile is still
    in cache. A weight ``B`` (a layout-free buffer: the model's parameters) is repacked
    once, at load, into column panels ``[N / 48, K, 48]``, so a tile reads its panel of
    ``B`` contiguously: a 128x768 by 768x3072 matmul with its bias ran in 4.9 ms with ``B``
    as stored and 1.8 ms with the panels (``docs/latency-measurement.md``).

    A dynamically quantized matmul (uint8 ``A`` by int8 ``B`` into int32, see
    ``integer_matmuls``) gets the same tiles on a CPU with AVX-512 VNNI: ``B``'s panels
    hold each vector's 16 columns by 4 consecutive ``k`` together (``[N / 48, K / 4, 48,
    4]``), and every step of a tile is one ``vpdpbusd`` per vector (64 products), 4
    ``k`` at a time. The same 128x768 by 768x3072 product: 0.61 ms, about 1000 GOP/s.
    """

    def apply(self, func: tirx.PrimFunc, target, _tunable: bool) -> s_tir.Schedule | None:
        if not isinstance(func, tirx.PrimFunc) or not self.is_target_available(target):
            return None
        sch = s_tir.Schedule(func)
        blocks = normalize_prim_func(sch)
        if not blocks:
            return None
        blocks = try_inline_contiguous_spatial(sch, blocks)
        if len(blocks) > 2 or blocks[0].is_injective() or not all(block.is_injective() for block in blocks[1:]):
            return None
        operands = _matmul_operands(sch.get(blocks[0].block_rv))
        if operands is None:
            return None
        *extents, depth = blocks[0].dom()
        rows, cols = (extents[-2] if operands.has_rows else 1), extents[-1]
        lanes = vector_lanes(target)
        if operands.integer and not (
            _has_vnni(target)
            and lanes == 16
            and operands.has_rows
            and isinstance(depth, int)
            and depth % 4 == 0
            and _is_layout_free(func, operands.weight)
        ):
            return None  # the uint8 x int8 tile needs VNNI on 512-bit vectors and a weight it may repack
        width = next((f * lanes for f in (3, 2, 1) if isinstance(cols, int) and cols % (f * lanes) == 0), None)
        if width is None or not isinstance(rows, int):
            return None
        height = next(f for f in (_TILE_ROWS, 4, 2, 1) if rows % f == 0)
        try:
            return self._schedule(sch, func, blocks, operands, height, width, lanes)
        except ScheduleError:
            return None

    @staticmethod
    def _schedule(sch, func, blocks, operands: _MatmulOperands, height: int, width: int, lanes: int):
        block = blocks[0].block_rv
        if operands.weight_rank == 2 and _is_layout_free(func, operands.weight):
            rewrite = sch.cache_read(block, operands.weight_read, "global")
            sch.annotate(rewrite, _LAYOUT_REWRITE, True)
            if operands.integer:  # each vector's 16 columns by 4 k: the 64 bytes one vpdpbusd reads
                panels = lambda k, j: (j // width, k // 4, j % width, k % 4)  # noqa: E731
            else:
                panels = lambda k, j: (j // width, k, j % width)  # noqa: E731
            sch.transform_layout(block, ("read", operands.weight_read), panels)
        *outer, j, k = sch.get_loops(block)
        panel, col, lane = sch.split(j, factors=[None, width // lanes, lanes])
        k, *quad = sch.split(k, factors=[None, 4]) if operands.integer else (k,)
        if operands.has_rows:
            *outer, i = outer
            tile_row, row = sch.split(i, factors=[None, height])
            sch.reorder(*outer, panel, tile_row, k, row, col, lane, *quad)
            tile = sch.fuse(*outer, panel, tile_row)
            sch.unroll(row)
        else:  # a matrix-vector product (the pooler): one row
            sch.reorder(*outer, panel, k, col, lane)
            tile = sch.fuse(*outer, panel)
        sch.parallel(tile)
        sch.unroll(col)
        if not operands.integer:
            sch.vectorize(lane)
        accumulators = sch.cache_write(block, 0, "local")
        sch.reverse_compute_at(accumulators, tile)
        init = sch.decompose_reduction(block, k)
        if operands.integer:
            sch.tensorize(lane, vnni_dot_intrinsic())
        epilogue = [info.block_rv for info in blocks[1:]]
        for after in epilogue:
            sch.reverse_compute_at(after, tile)
        for elementwise in (init, accumulators, *epilogue):
            _, vector = sch.split(sch.get_loops(elementwise)[-1], factors=[None, lanes])
            sch.vectorize(vector)
        return sch


class _MatmulOperands(NamedTuple):
    weight_read: int  # the index of B among the block's reads
    weight: tirx.Var
    weight_rank: int
    has_rows: bool  # False for a matrix-vector product, C[..., j] += A[..., k] * B[k, j]
    integer: bool  # uint8 A by int8 B summed in int32 (a dynamically quantized matmul)


def _matmul_operands(block) -> _MatmulOperands | None:
    """What the schedule needs of a block ``C[..., i, j] += A[..., i, k] * B[..., k, j]``;
    None for any other reduction."""
    spatial = [iv.var for iv in block.iter_vars if iv.iter_type == tirx.IterVar.DataPar]
    reduced = [iv.var for iv in block.iter_vars if iv.iter_type == tirx.IterVar.CommReduce]
    if len(reduced) != 1 or not spatial or len(block.writes) != 1:
        return None
    k, j = reduced[0], spatial[-1]

    def indexed_by(region, *variables) -> bool:
        index = [r.min for r in region.region[-len(variables) :]]
        return len(region.region) >= len(variables) and all(
            isinstance(e, tirx.Var) and e.same_as(v) for e, v in zip(index, variables)
        )

    own = block.writes[0].source
    reads = [(n, r) for n, r in enumerate(block.reads) if not r.source.same_as(own)]
    rhs = [(n, r) for n, r in reads if indexed_by(r, k, j)]
    if len(reads) != 2 or len(rhs) != 1 or not indexed_by(block.writes[0], *spatial):
        return None
    (n, weight), (_, lhs) = rhs[0], next(read for read in reads if read[0] != rhs[0][0])
    has_rows = len(spatial) > 1 and indexed_by(lhs, spatial[-2], k)
    if not has_rows and not indexed_by(lhs, k):
        return None
    integer = (str(lhs.source.dtype), str(weight.source.dtype), str(own.dtype)) == ("uint8", "int8", "int32")
    return _MatmulOperands(n, weight.source, len(weight.region), has_rows, integer)


def _has_vnni(target) -> bool:
    """Whether the target's CPU has AVX-512 VNNI (``vpdpbusd``: 64 uint8 x int8 products a step)."""
    return bool(target_has_features("avx512vnni", target))


def _is_layout_free(func: tirx.PrimFunc, tensor: tirx.Var) -> bool:
    """Whether ``tensor`` is a parameter TVM may store in another layout (a weight)."""
    free = func.attrs.get("layout_free_buffers", []) if func.attrs is not None else []
    return any(func.params[int(n)].same_as(tensor) for n in free)
