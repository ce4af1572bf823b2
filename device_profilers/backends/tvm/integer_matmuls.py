"""Dynamically quantized matmuls kept in 8 bits, so the CPU's integer dot products run them.

ONNX Runtime's dynamic quantization writes ``MatMulInteger(A, B, a_zero_point, b_zero_point)``:
uint8 activations with a zero point computed per call, int8 weights (symmetric: zero
points 0, one per column here). TVM's importer widens both to int32 and subtracts the zero points before the matmul,
so the kernel multiplies 32-bit integers and no dot-product instruction applies. Since
``sum_k (A - z) B = sum_k A B - z sum_k B``, the rewrite multiplies the 8-bit operands
(``R.matmul(A, B, out_dtype="int32")``, which the ``Matmul`` schedule rule maps onto VNNI)
and subtracts ``z`` times the column sums of ``B``, which depend on the weight alone and
are computed once at load.
"""

from __future__ import annotations

import numpy as np
import tvm
from tvm import relax
from tvm.relax.dpl import is_const, is_op, rewrite_call, wildcard


def _rewrite(function: relax.Function) -> relax.Function:
    activations, activation_zero, weights, weight_zero = wildcard(), wildcard(), wildcard(), is_const()
    widened_weights, widened_zero = is_op("relax.astype")(weights), is_op("relax.astype")(weight_zero)
    per_column_zero = is_op("relax.expand_dims")(widened_zero)
    pattern = is_op("relax.matmul")(
        is_op("relax.subtract")(is_op("relax.astype")(activations), activation_zero),
        is_op("relax.subtract")(widened_weights, widened_zero | per_column_zero) | widened_weights,
    )

    def rewriter(call: relax.Call, matched) -> relax.Expr:
        a, b = matched[activations], matched[weights]
        if (
            a.ty.dtype != "uint8"
            or b.ty.dtype != "int8"
            or len(b.ty.shape) != 2
            or (weight_zero in matched and np.any(matched[weight_zero].value.numpy()))
        ):
            return call  # an asymmetric or activation-by-activation product stays as imported
        column_sums = relax.op.sum(relax.op.astype(b, "int32"), axis=[0])
        return relax.op.subtract(
            relax.op.matmul(a, b, out_dtype="int32"), relax.op.multiply(matched[activation_zero], column_sums)
        )

    return rewrite_call(pattern, rewriter, function)


@tvm.transform.module_pass(opt_level=0, name="IntegerMatmuls")
class IntegerMatmuls:
    """Rewrites the importer's widened ``MatMulInteger`` into a uint8 x int8 matmul and a
    zero-point correction (see the module docstring)."""

    def transform_module(self, mod: tvm.IRModule, _ctx) -> tvm.IRModule:
        rewritten = mod.clone()
        for global_var, func in mod.functions_items():
            if isinstance(func, relax.Function):
                rewritten.update_func(global_var, _rewrite(func))
        return rewritten
