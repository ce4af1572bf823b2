"""The function MetaSchedule's builder workers compile candidates with.

TVM's default build function imports ``tvm.s_tir.tensor_intrin``, which parses several
hundred TVMScript functions (about 20 s on our machines), in every builder worker: that
import, not compilation (30-300 ms a candidate), was most of MetaSchedule's fixed cost
per task. fp32 CPU schedules use no tensor intrinsics, so the import is dropped here.
This module must stay light: every builder worker imports it (``pooled_builder``).
"""


def build_candidate(mod, target, _params):
    from tvm.driver import build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return build(mod, target=target)
