"""The relax lowering and the schedules of untuned kernels: real TVM compilation, ONNX Runtime as the reference."""

import numpy as np
import pytest
import tvm
from tvm import relax, tirx

from device_profilers import TuningSettings, local_cpu
from device_profilers.backends.tvm import TvmBackend
from device_profilers.backends.tvm.default_schedules import schedule_untuned
from device_profilers.backends.tvm.lowering import lower
from device_profilers.export import build_classifier, export_onnx
from search_spaces import Arch

pytestmark = pytest.mark.slow  # real TVM compilation

ARCH = Arch.uniform(2, 64, 2, 128)
SEQ_LEN = 16


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("tvm-compiler") / "model.onnx"
    return export_onnx(build_classifier(ARCH, SEQ_LEN), path, 1, SEQ_LEN)


def test_exp_erf_and_tanh_are_lowered_to_their_fast_approximations(onnx_path):
    backend = TvmBackend(local_cpu(), onnx_path.parent / "cache", TuningSettings(trials_per_task=0))
    module, _ = lower(onnx_path, 1, SEQ_LEN, backend.target, weights_apart=False)
    kernels = "\n".join(str(func) for _, func in module.functions_items() if isinstance(func, tirx.PrimFunc))
    assert "softmax" in kernels and "T_fast_erf" in kernels  # the graph has both, in their fast form
    for libm_call in ("T.exp(", "T.erf(", "T.tanh("):
        assert libm_call not in kernels


def test_fast_math_logits_agree_with_onnx_runtime(onnx_path):
    import onnxruntime

    tokens = np.random.default_rng(0).integers(0, 1000, (1, SEQ_LEN)).astype(np.int64)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {session.get_inputs()[0].name: tokens})[0]
    backend = TvmBackend(local_cpu(), onnx_path.parent / "cache", TuningSettings(trials_per_task=0))
    executable, _, _ = backend.compile(onnx_path, 1, SEQ_LEN)
    compiled = relax.VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(tokens)).numpy()
    assert np.abs(compiled - reference).max() < 1e-5


def test_untuned_softmax_norm_and_layout_kernels_run_in_parallel_and_vectorised(onnx_path):
    backend = TvmBackend(local_cpu(), onnx_path.parent / "cache", TuningSettings(trials_per_task=0))
    module, _ = lower(onnx_path, 1, SEQ_LEN, backend.target, weights_apart=True)
    with backend.target:
        module = schedule_untuned()(module)
    kernels = {gv.name_hint: str(func) for gv, func in module.functions_items() if isinstance(func, tirx.PrimFunc)}
    scheduled = [name for name in kernels if any(part in name for part in ("softmax", "layer_norm", "transpose"))]
    assert scheduled
    for name in scheduled:
        assert "T.parallel(" in kernels[name] and "T.vectorized(" in kernels[name], name
