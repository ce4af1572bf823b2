import optuna
import pytest

from search_spaces import Arch, BertSpace, to_bert_config


def test_arch_key_is_stable_and_round_trips():
    arch = Arch.uniform(4, 256, 4, 1024)
    assert arch.key == "L4-H256-A4-I1024"
    assert Arch.from_dict(arch.to_dict()) == arch
    assert arch.head_dim == 64


@pytest.mark.parametrize(
    "values, message",
    [
        ((2, 100, 3, 400), "not divisible"),
        ((0, 64, 2, 128), "positive integer"),
        ((2, 64, 2, 12.5), "positive integer"),
    ],
)
def test_arch_rejects_invalid_shapes(values, message):
    with pytest.raises(ValueError, match=message):
        Arch.uniform(*values)


def test_arch_from_dict_names_unknown_keys():
    with pytest.raises(ValueError, match="unknown Arch key\\(s\\) \\['depth'\\]"):
        Arch.from_dict({"depth": 2, "hidden_size": 64, "num_heads": 2, "intermediate_size": 128})


def test_space_samples_only_valid_archs_on_its_grid():
    space = BertSpace()
    grid = set(space.archs())
    assert len(grid) == space.size()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        config = space(trial)
        arch = Arch.from_dict(config["arch"])
        assert arch in grid
        assert arch.hidden_size == arch.num_heads * arch.head_dim
        study.tell(trial, 0.0)


def test_space_rejects_empty_or_bad_choices():
    with pytest.raises(ValueError, match="num_layers is empty"):
        BertSpace(num_layers=())
    with pytest.raises(ValueError, match="positive integers"):
        BertSpace(head_dim=(0, 16))


def test_bert_config_matches_arch():
    config = to_bert_config(Arch.uniform(3, 96, 2, 384), vocab_size=100, max_position_embeddings=32)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads, config.intermediate_size) == (
        3,
        96,
        2,
        384,
    )
    assert config.vocab_size == 100 and config.max_position_embeddings == 32
