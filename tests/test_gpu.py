"""The GPU device: TVM's CUDA target, ONNX Runtime's CUDA provider, PyTorch on CUDA.

The measuring test needs a CUDA GPU and skips, saying so, where there is none (CI
here has none). What can run without a GPU does: asking for the GPU on a machine
without one is a clear error.
"""

import onnxruntime
import pytest
import tvm

from canao_ray.cli import main
from device_profilers import DeviceProfiler, MeasureProtocol, TuningSettings, local_gpu
from search_spaces import Arch

HAS_CUDA_GPU = tvm.cuda(0).exist
QUICK = MeasureProtocol(warmup=2, repeats=5, min_repeat_ms=5, blocks=2, block_pause_s=0, max_blocks=3)


@pytest.mark.skipif(not HAS_CUDA_GPU, reason="no CUDA GPU on this machine: the GPU path needs one to measure")
@pytest.mark.parametrize("backend", ["tvm", "ort", "torch"])
def test_gpu_backends_measure_the_same_arch(backend, tmp_path):
    if backend == "ort" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("ONNX Runtime here has no CUDA provider: install onnxruntime-gpu to measure it")
    profiler = DeviceProfiler(local_gpu(), str(tmp_path), TuningSettings(trials_per_task=4), QUICK)
    latency = profiler.measure(Arch.uniform(1, 32, 2, 64), backend, 1, 16)
    assert latency.device == "local-gpu" and latency.backend == backend and latency.median_ms > 0


@pytest.mark.skipif(HAS_CUDA_GPU, reason="this machine has a CUDA GPU")
def test_asking_for_a_missing_gpu_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CANAO_CACHE_DIR", str(tmp_path))
    assert main(["profile", "--arch", "L1-H32-A2-I64", "--device", "local-gpu"]) == 2
    stderr = capsys.readouterr().err
    assert len(stderr.strip().splitlines()) == 1 and "no CUDA GPU 0 on this machine" in stderr
