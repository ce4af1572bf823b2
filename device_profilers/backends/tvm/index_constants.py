"""Index arithmetic on constants worked out in numpy before legalization.

TVM's ONNX importer guards every ``Gather`` against negative indices with
``where(less(i, 0), add(i, take(shape_to_tensor(shape_of(data)), axis)), i)``. For the
constant indices of a BERT graph (position and token-type ids, the pooler's first token)
that whole chain is constant, and so is the axis extent for every other ``Gather``;
relax's ``FoldConstant`` would compile a kernel with LLVM for each step, 0.4 s of every
compile here. This pass evaluates them in numpy first: int32, int64 and boolean tensors
only, where numpy and TVM agree exactly (8-bit weights are left alone: ``IntegerMatmuls``
matches their widening).
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.relax import Call, PyExprMutator, expr_functor

from .rewrite import rewrite_relax_functions

_ELEMENTWISE = {"relax.add": np.add, "relax.less": np.less, "relax.where": np.where}
#: Larger constants are left to relax: this pass is for index bookkeeping.
_MAX_ELEMENTS = 1 << 16


def _is_index(array: np.ndarray) -> bool:
    return array.dtype in (np.int64, np.int32, np.bool_) and array.size <= _MAX_ELEMENTS


@expr_functor.mutator
class _IndexFolder(PyExprMutator):
    def _constant(self, expr: relax.Expr) -> np.ndarray | None:
        if isinstance(expr, relax.Var):
            expr = self.lookup_binding(expr)
        if isinstance(expr, tvm.ir.GenericConst):
            value = expr.value.numpy()
            return value if _is_index(value) else None
        return None

    def _static_shape(self, expr: relax.Expr) -> np.ndarray | None:
        info = expr.ty
        if (
            isinstance(info, relax.ShapeType)
            and info.values is not None
            and all(isinstance(v, tvm.tirx.IntImm) for v in info.values)
        ):
            return np.array([int(v) for v in info.values], dtype="int64")
        return None

    def visit_call_(self, call: Call) -> relax.Expr:
        call = super().visit_call_(call)
        name = getattr(call.op, "name", None)
        if name == "relax.shape_to_tensor":
            value = self._static_shape(call.args[0])
        elif name in _ELEMENTWISE or name == "relax.take":
            args = [self._constant(arg) for arg in call.args]
            if any(arg is None for arg in args):
                return call
            value = self._evaluate(name, call, args)
        else:
            return call
        if value is None or not _is_index(np.asarray(value)):
            return call
        return relax.const(np.asarray(value), str(np.asarray(value).dtype))

    @staticmethod
    def _evaluate(name: str, call: Call, args: list[np.ndarray]) -> np.ndarray | None:
        if name == "relax.take":
            data, indices = args
            mode = {"wrap": "wrap", "clip": "clip"}.get(str(call.attrs.mode), "raise")
            axis = call.attrs.axis
            return np.take(data, indices, axis=None if axis is None else int(axis), mode=mode)
        value = _ELEMENTWISE[name](*args)
        expected = np.dtype(str(call.ty.dtype))
        return value.astype(expected)


@tvm.transform.module_pass(opt_level=0, name="FoldIndexConstants")
class FoldIndexConstants:
    """Integer index arithmetic on constants (and static shapes) replaced by its value."""

    def transform_module(self, mod: tvm.IRModule, _ctx) -> tvm.IRModule:
        return rewrite_relax_functions(_IndexFolder(mod), mod)
