"""Import TVM's tensor-intrinsic library without most of its start-up cost.

MetaSchedule's ``TuneContext`` imports ``tvm.s_tir.tensor_intrin``, whose TVMScript
parser calls ``inspect.stack()`` with source context for each of its ~500 functions, and
``inspect.getmodule`` rescans ``sys.modules`` for every frame. During that one import
the stack is taken without source context (TVM reads it only for class-scoped
TVMScript, which the library has none of) and ``getmodule`` answers per file from a
memo; both are restored afterwards, and the imported functions are the same. A process
that compiles for CPUs only leaves the CUDA intrinsics out (most of the import's time),
and every process the ROCm and Hexagon ones.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import sys
import types

#: The CUDA part of the library: three quarters of its import time, and of no use to a CPU.
_CUDA_INTRINSICS = "tvm.s_tir.tensor_intrin.cuda"
#: Parts for targets no device here has (AMD GPUs, Hexagon DSPs).
_NEVER_USED = ("tvm.s_tir.tensor_intrin.rocm", "tvm.s_tir.tensor_intrin.hexagon")


class _LeftOut(types.ModuleType):
    """Stands in for a part of the library this process compiles for no target of."""


@contextlib.contextmanager
def _quick_tvmscript():
    """TVMScript parsing without source context in stacks and with a memo of ``getmodule``."""
    original_stack, original_getmodule = inspect.stack, inspect.getmodule
    by_file: dict[str, object] = {}

    def getmodule(obj, _filename=None):
        filename = _filename or getattr(getattr(obj, "f_code", obj), "co_filename", None)
        if filename is None or inspect.ismodule(obj) or hasattr(obj, "__module__"):
            return original_getmodule(obj, _filename)
        if filename not in by_file:
            by_file[filename] = original_getmodule(obj, _filename)
        return by_file[filename]

    inspect.stack = lambda context=1: original_stack(0)
    inspect.getmodule = getmodule
    try:
        yield
    finally:
        inspect.stack, inspect.getmodule = original_stack, original_getmodule


def import_tensor_intrinsics(cuda: bool = False) -> None:
    """Import ``tvm.s_tir.tensor_intrin`` once, quickly (see the module docstring), its
    CUDA intrinsics only for a ``cuda`` target (imported then if an earlier call left
    them out)."""
    if cuda and isinstance(sys.modules.get(_CUDA_INTRINSICS), _LeftOut):
        del sys.modules[_CUDA_INTRINSICS]
        with _quick_tvmscript():
            importlib.import_module(_CUDA_INTRINSICS)
    if "tvm.s_tir.tensor_intrin" in sys.modules:
        return
    for name in (*_NEVER_USED, *(() if cuda else (_CUDA_INTRINSICS,))):
        sys.modules.setdefault(name, _LeftOut(name))
    with _quick_tvmscript():
        import tvm.s_tir.tensor_intrin  # noqa: F401


#: The tensor intrinsic the ``Matmul`` rule maps uint8 x int8 products onto (registered on first use).
VNNI_DOT_INTRINSIC = "canao_dot_16x4_u8s8i32_vnni"


def vnni_dot_intrinsic() -> str:
    """Register (once) and name ``C[16] += A[4] . B[16, 4]`` in uint8 x int8 -> int32 as one
    ``vpdpbusd``, with ``C`` in registers.

    TVM ships the same product (``dot_16x4_vnni``), but for a ``C`` in global memory, which
    a register-tiled schedule's accumulators are not, and calling the LLVM intrinsic with
    the 32-bit lanes that LLVM before 20 took (this LLVM wants bytes).
    """
    from tvm.s_tir import TensorIntrin

    if TensorIntrin.get(VNNI_DOT_INTRINSIC, allow_missing=True) is not None:
        return VNNI_DOT_INTRINSIC
    from tvm.script import tirx as T

    def buffers(T):  # noqa: N803 (TVMScript's name)
        return (
            T.Buffer((4,), "uint8", offset_factor=1),
            T.Buffer((16, 4), "int8", offset_factor=1),
            T.Buffer((16,), "int32", offset_factor=1, scope="local"),
        )

    a_type, b_type, c_type = buffers(T)

    @T.prim_func(s_tir=True)
    def description(A: a_type, B: b_type, C: c_type) -> None:  # noqa: N803
        with T.sblock("root"):
            T.reads(C[0:16], A[0:4], B[0:16, 0:4])
            T.writes(C[0:16])
            for i, k in T.grid(16, 4):
                with T.sblock("update"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    C[vi] = C[vi] + T.cast(A[vk], "int32") * T.cast(B[vi, vk], "int32")

    @T.prim_func(s_tir=True)
    def implementation(A: a_type, B: b_type, C: c_type) -> None:  # noqa: N803
        with T.sblock("root"):
            T.reads(C[0:16], A[0:4], B[0:16, 0:4])
            T.writes(C[0:16])
            row = T.reinterpret(T.broadcast(T.reinterpret(A.vload([0], "uint8x4"), dtype="int32"), 16), dtype="int8x64")
            C[T.ramp(T.int32(0), 1, 16)] = T.call_llvm_pure_intrin(
                T.llvm_lookup_intrinsic_id("llvm.x86.avx512.vpdpbusd.512"),
                C.vload([0], dtype="int32x16"),
                row,
                B.vload([0, 0], dtype="int8x64"),
                dtype="int32x16",
            )

    TensorIntrin.register(VNNI_DOT_INTRINSIC, description, implementation)
    return VNNI_DOT_INTRINSIC
