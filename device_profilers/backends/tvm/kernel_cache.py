"""Compiled kernels kept by content for the life of a profiler, so a new architecture
whose kernels were all compiled before links in milliseconds.

Architectures in one search repeat operator shapes, and so kernels: BERT-base-L11 has
exactly the kernels of BERT-base. ``tvm.compile`` generates machine code for every kernel
again (0.6 s there) and the VM's first load JITs it (0.45 s more). Here each kernel is
renamed after its structural hash, only kernels not built before go through LLVM, and
the VM executable imports the modules that hold the rest. Built from ``tvm.compile``'s
own steps (``relax.vm_build``'s ``_vmcodegen`` and ``_vmlink``; TVM is pinned in
``constraints.txt``). Only local timing uses it: a library exported for an RPC device
or a bundle is compiled whole.
"""

from __future__ import annotations

import tvm
import tvm_ffi
from tvm import relax, tirx
from tvm.relax import PyExprMutator, expr_functor
from tvm.relax.vm_build import _vmcodegen, _vmlink
from tvm.script import tirx as T

from .rewrite import rewrite_relax_functions


@T.prim_func
def _anchor(a: T.Buffer((1,), "float32")):
    # Linked fresh into every executable, so the cached modules are imported beside it:
    # with no new kernel at all, VMLink adds an empty C module that ``jit`` then links
    # with the system compiler (0.5 s).
    T.func_attr({"global_symbol": "canao_link_anchor"})
    a[0] = a[0]


@expr_functor.mutator
class _KernelRenamer(PyExprMutator):
    """Points the relax functions' calls at the kernels' new names (``renamed``)."""

    def __init__(self, mod: tvm.IRModule):
        super().__init__(mod)
        self.renamed: dict[relax.GlobalVar, relax.GlobalVar] = {}

    def visit_global_var_(self, op: relax.GlobalVar) -> relax.Expr:
        return self.renamed.get(op, op)


def _by_content(mod: tvm.IRModule) -> tvm.IRModule:
    """``mod`` with each kernel renamed after its structural hash (equal kernels become one)."""
    renamer = _KernelRenamer(mod)
    for global_var, func in mod.functions_items():
        if isinstance(func, tirx.PrimFunc):
            name = f"canao_kernel_{tvm_ffi.structural_hash(_unnamed(func)):016x}"
            renamer.renamed[global_var] = renamer.builder_.add_func(func.with_attr("global_symbol", name), name)
    built = rewrite_relax_functions(renamer, mod)
    return tvm.IRModule(
        {gv: func for gv, func in built.functions_items() if gv not in renamer.renamed}, attrs=mod.attrs
    )


def _unnamed(func: tirx.PrimFunc) -> tirx.PrimFunc:
    return func.without_attr("global_symbol") if func.attrs is not None and "global_symbol" in func.attrs else func


class KernelCache:
    """Kernels compiled for one target, by name (their content hash), with the module
    that holds each."""

    def __init__(self, target: tvm.target.Target):
        self.target = target
        self._modules: dict[str, tvm.runtime.Module] = {}

    def __len__(self) -> int:
        """Kernels held."""
        return len(self._modules)

    def build(self, mod: tvm.IRModule):
        """What ``tvm.compile(mod, target, relax_pipeline=None)`` returns, the kernels
        built before taken from the cache."""
        mod = _by_content(mod)
        attrs = dict(mod.attrs) if mod.attrs else {}
        builder = relax.ExecBuilder()
        leftover = _vmcodegen(builder, mod).functions_items()
        kernels = {gv.name_hint: func for gv, func in leftover if isinstance(func, tirx.PrimFunc)}
        fresh = {name: func for name, func in kernels.items() if name not in self._modules}
        if fresh:
            module = tvm.tirx.build(tvm.IRModule(fresh), target=self.target)
            self._modules.update(dict.fromkeys(fresh, module))
        held = {id(module): module for name in kernels for module in [self._modules[name]]}
        return _vmlink(
            builder,
            self.target,
            tir_mod=tvm.IRModule({"canao_link_anchor": _anchor}),
            ext_libs=[*attrs.get("external_mods", []), *held.values()],
            params=dict(attrs.get("const_name_to_constant", {})),
        )
