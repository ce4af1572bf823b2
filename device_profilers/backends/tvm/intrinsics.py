"""Import TVM's tensor-intrinsic library without most of its start-up cost.

MetaSchedule's ``TuneContext`` imports ``tvm.s_tir.tensor_intrin``, whose TVMScript
parser calls ``inspect.stack()`` with source context for each of its ~500 functions, and
``inspect.getmodule`` rescans ``sys.modules`` for every frame. During that one import
the stack is taken without source context (TVM reads it only for class-scoped
TVMScript, which the library has none of) and ``getmodule`` answers per file from a
memo; both are restored afterwards, and the imported functions are the same.
"""

from __future__ import annotations

import inspect
import sys


def import_tensor_intrinsics() -> None:
    """Import ``tvm.s_tir.tensor_intrin`` once, quickly (see the module docstring)."""
    if "tvm.s_tir.tensor_intrin" in sys.modules:
        return
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
        import tvm.s_tir.tensor_intrin  # noqa: F401
    finally:
        inspect.stack, inspect.getmodule = original_stack, original_getmodule
