"""Vectorisable approximations of the transcendental functions in a transformer graph.

LLVM turns ``exp``, ``erf`` and ``tanh`` of a vector into one libm call per lane, so the
softmax of every attention block and the GELU fused into every FFN matmul ran scalar:
on MiniLM-L6 a fifth of the model's time. TVM's ``FastMathTransform`` swaps softmax,
``exp``, ``erf`` and ``tanh`` for its polynomial versions (``fast_softmax``, ``fast_erf``,
...); relax's ``nn.gelu`` reaches ``erf`` only when legalized, after that pass, so
:class:`FastGelu` spells it out first. Logits move by about 1e-7.
"""

from __future__ import annotations

import tvm
from tvm import relax, tirx, topi
from tvm.relax import Call, PyExprMutator, expr_functor

from .rewrite import rewrite_relax_functions


def _fast_gelu(x):
    """GELU as relax legalizes it (``x * (1/2 + erf(x / sqrt 2) / 2)``), with ``fast_erf``."""
    half = tirx.const(0.5, x.dtype)
    return x * (half + topi.fast_erf(x * tirx.const(0.5**0.5, x.dtype)) * half)


@expr_functor.mutator
class _GeluRewriter(PyExprMutator):
    def visit_call_(self, call: Call) -> relax.Expr:
        call = super().visit_call_(call)
        if getattr(call.op, "name", None) == "relax.nn.gelu" and call.args[0].ty.dtype == "float32":
            return self.builder_.call_te(_fast_gelu, call.args[0], primfunc_name_hint="gelu")
        return call


@tvm.transform.module_pass(opt_level=0, name="FastGelu")
class FastGelu:
    """Rewrites float32 ``relax.nn.gelu`` into its TIR form with ``fast_erf``."""

    def transform_module(self, mod: tvm.IRModule, _ctx) -> tvm.IRModule:
        return rewrite_relax_functions(_GeluRewriter(mod), mod)


def fast_math() -> tvm.transform.Pass:
    """GELU, softmax, ``exp``, ``erf`` and ``tanh`` replaced by TVM's fast approximations."""
    return tvm.transform.Sequential([FastGelu(), relax.transform.FastMathTransform()], name="FastMath")
