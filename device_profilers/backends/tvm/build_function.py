"""The function MetaSchedule's builder workers compile candidates with.

TVM's default build imports ``tvm.s_tir.tensor_intrin`` (hundreds of TVMScript functions,
seconds to parse) in every worker; fp32 CPU schedules use no tensor intrinsic, so this
one does not. Every builder worker imports this module: keep it light.
"""


def build_and_export(mod, target) -> str:
    """Build one candidate as TVM's default build does, less that import, and export it as
    TVM's default artifact (a tar); the artifact's path."""
    from tvm.driver import build
    from tvm.s_tir.meta_schedule.builder.local_builder import default_export
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return default_export(build(mod, target=target))
