"""The training loop's weight averaging, on the embedded task with a tiny model."""

import pytest
import torch

from canao_ray.config import ConfigError, SearchConfig, TaskConfig, TrainingSettings
from canao_ray.data import load_task
from canao_ray.training import Trainer, build_model
from search_spaces import Arch

ARCH = Arch(1, 32, 2, 64)


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
