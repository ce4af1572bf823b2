"""The training loop: weight averaging, mixed precision, the device, on the embedded task with a tiny model."""

import pytest
import torch

from canao_ray.config import ConfigError, SearchConfig, TaskConfig, TrainingSettings
from canao_ray.data import load_task
from canao_ray.training import Trainer, build_model, device_name, local_training_device, training_device
from search_spaces import Arch

ARCH = Arch.uniform(1, 32, 2, 64)


@pytest.fixture(scope="module")
def data():
    return load_task(TaskConfig(num_train=64, num_dev=32, seq_len=32))


def test_without_ema_the_trained_model_is_the_model(data):
    trainer = Trainer(build_model(ARCH, data, 0), data, TrainingSettings(epochs=1))
    assert trainer.trained is trainer.model


def test_with_ema_evaluation_sees_the_average_of_the_steps(data):
    settings = TrainingSettings(epochs=1, batch_size=16, ema_decay=0.5)
    trainer = Trainer(build_model(ARCH, data, 0), data, settings)
    trainer.epoch()
    averaged = dict(trainer.trained.named_parameters())
    last = dict(trainer.model.named_parameters())
    moved = [name for name in last if not torch.equal(averaged[name], last[name])]
    assert moved, "four steps at decay 0.5 should leave the average behind the last weights"
    assert trainer.average.n_averaged.item() == 4  # one update per step: 64 examples / 16
    metrics = trainer.evaluate()
    assert not trainer.trained.training and 0.0 <= metrics["accuracy"] <= 1.0


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_ema_decay_outside_the_open_unit_interval_is_rejected(decay):
    with pytest.raises(ConfigError, match="training.ema_decay"):
        SearchConfig.from_dict({"training": {"ema_decay": decay}})


def test_an_unset_ema_decay_leaves_cache_keys_as_before():
    assert "ema_decay" not in TrainingSettings().identity()
    assert TrainingSettings(ema_decay=0.99).identity()["ema_decay"] == 0.99


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_on_the_cpu_and_evaluates_in_full_precision(data, precision):
    """bf16 is autocast on this CPU (AVX-512 bf16); fp16 adds loss scaling. The weights stay fp32."""
    settings = TrainingSettings(epochs=1, batch_size=16, precision=precision)
    trainer = Trainer(build_model(ARCH, data, 0), data, settings)
    assert (trainer.scaler is not None) == (precision == "fp16")
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    loss = trainer.epoch()
    assert loss == loss and all(p.dtype == torch.float32 for p in trainer.model.parameters())
    assert any(not torch.equal(before[name], p) for name, p in trainer.model.named_parameters())
    assert 0.0 <= trainer.evaluate()["accuracy"] <= 1.0


def test_an_unset_precision_leaves_cache_keys_as_before():
    assert "precision" not in TrainingSettings().identity()


def test_a_process_trains_on_the_cpu_unless_it_asked_for_gpus():
    assert training_device(0) == torch.device("cpu") and device_name(torch.device("cpu")) == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_a_gpu_without_one_is_an_error_that_names_the_setting():
    with pytest.raises(RuntimeError, match="PyTorch sees no CUDA device"):
        training_device(1)
    with pytest.raises(ConfigError, match="finalize.gpus: 1 asks for a GPU but PyTorch sees none"):
        local_training_device("finalize.gpus", 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine: training on one needs one")
@pytest.mark.parametrize("precision", [None, "bf16", "fp16"])
def test_training_on_the_gpu_moves_model_and_batches_there(data, precision):
    trainer = Trainer(
        build_model(ARCH, data, 0), data, TrainingSettings(epochs=1, precision=precision), device=training_device(1)
    )
    trainer.epoch()
    assert next(trainer.model.parameters()).is_cuda and 0.0 <= trainer.evaluate()["accuracy"] <= 1.0


def test_an_int8_candidate_is_scored_as_the_quantized_graph_onnx_runtime_runs(data, tmp_path):
    """The int8 score is that of the exported, dynamically quantized graph, one example at a
    time as a bundle runs it: the same logits ONNX Runtime gives for that file."""
    import numpy as np

    from canao_ray.deploy.bundle import bundle_inputs, onnx_logits
    from device_profilers.export import export_onnx

    trainer = Trainer(build_model(ARCH, data, 0), data, TrainingSettings(epochs=1, batch_size=16))
    trainer.epoch()
    logits = trainer._int8_logits()
    path = export_onnx(trainer.trained, tmp_path / "int8.onnx", 1, data.seq_len, bundle_inputs(data), precision="int8")
    assert np.array_equal(logits, onnx_logits(path, data, 1))
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= {node.op_type for node in _nodes(path)}
    assert 0.0 <= trainer.evaluate(precision="int8")["accuracy"] <= 1.0


def _nodes(path):
    import onnx

    return onnx.load(str(path)).graph.node
