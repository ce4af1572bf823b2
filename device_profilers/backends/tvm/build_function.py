"""The function MetaSchedule's builder workers compile candidates with.

TVM's default one imports ``tvm.s_tir.tensor_intrin`` (hundreds of TVMScript functions,
seconds to parse) in every worker; fp32 CPU schedules use no tensor intrinsic, so this
one does not. Every builder worker imports this module: keep it light.
"""


def build_candidate(mod, target, _params):
    from tvm.driver import build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return build(mod, target=target)
