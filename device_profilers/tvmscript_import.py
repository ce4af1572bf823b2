"""Import TVM's tensor-intrinsic library without its 20-40 s start-up cost.

MetaSchedule's ``TuneContext`` imports ``tvm.s_tir.tensor_intrin``, which parses about
500 TVMScript functions. Each parse calls ``inspect.stack()`` and ``inspect.getsource``;
``inspect.getmodule`` then rescans ``sys.modules`` for every frame whose file is not a
module (the import machinery's frames), which costs 20 s in a bare process and over
40 s in one that has imported torch and transformers. During that one import, the
stack is taken without source context (TVM only reads it to detect class-scoped
TVMScript, which the library has none of) and ``getmodule`` answers per file from a
memo. Both are restored afterwards; the imported functions are identical.
"""

from __future__ import annotations

import inspect
import sys


def import_tensor_intrinsics() -> None:
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
