"""How much memory a compiled relax module holds while it runs, read from its memory plan."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tvm
from tvm import relax

#: The VM's storage allocation after the default pipeline (``StaticPlanBlockMemory`` then
#: ``LowerRuntimeBuiltin``): its first argument is the storage's size in bytes.
_ALLOC_STORAGE = "relax.vm.alloc_storage"


def planned_bytes(mod: tvm.IRModule, weights: Sequence[np.ndarray] = (), function: str = "main") -> int:
    """The weights (``function``'s constants and the ``weights`` passed to it) plus every
    storage block the static planner allocates for its activations. TVM's allocator keeps
    freed blocks for reuse, so the blocks' sum is what a run holds at its peak."""
    total = sum(int(w.nbytes) for w in weights)

    def visit(expr) -> None:
        nonlocal total
        if isinstance(expr, tvm.ir.GenericConst) and isinstance(expr.value, tvm.runtime.Tensor):
            tensor = expr.value
            total += int(np.prod(tensor.shape, dtype=np.int64)) * tvm.DataType(tensor.dtype).itemsize
        elif isinstance(expr, relax.Call) and isinstance(expr.op, tvm.ir.Op) and expr.op.name == _ALLOC_STORAGE:
            total += int(expr.args[0].values[0])

    relax.analysis.post_order_visit(mod[function], visit)
    return total
