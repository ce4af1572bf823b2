"""The one loop every relax rewrite here shares: each relax function of a module through a mutator."""

from __future__ import annotations

import tvm
from tvm import relax


def rewrite_relax_functions(mutator: relax.PyExprMutator, mod: tvm.IRModule) -> tvm.IRModule:
    """``mod`` with each relax function replaced by what ``mutator`` (built on ``mod``)
    makes of it; kernels and anything the mutator added are kept."""
    for global_var, func in mod.functions_items():
        if isinstance(func, relax.Function):
            mutator.builder_.update_func(global_var, mutator.visit_expr(func))
    return mutator.builder_.get()
