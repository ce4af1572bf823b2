"""What the schedule rules share: the target's vector width."""

from __future__ import annotations

from tvm.target.codegen import llvm_get_vector_width


def vector_lanes(target) -> int:
    """float32 lanes of the target's vector registers."""
    return max(llvm_get_vector_width(target) // 32, 4)
