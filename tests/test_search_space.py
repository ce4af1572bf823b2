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


def test_precision_is_part_of_an_arch_and_a_dimension_of_every_kind_of_space():
    from search_spaces import LayerwiseSpace, TuneSpace

    int8 = Arch.per_layer(384, 32, [12, 4], [1536, 768]).with_precision("int8")
    assert int8.key == "L2-H384-D32-A12.4-I1536.768-int8"
    assert Arch.from_key(int8.key) == int8 and Arch.from_dict(int8.to_dict()) == int8
    assert "precision" not in Arch.uniform(2, 64, 2, 128).to_dict()  # fp32 archs read and write as before
    with pytest.raises(ValueError, match="precision must be one of"):
        Arch.from_dict({**int8.to_dict(), "precision": "int4"})
    tune = TuneSpace(tune={"num_layers": 2, "hidden_size": 64, "num_heads": 2, "intermediate_size": 128,
                           "precision": {"choice": ["fp32", "int8"]}})  # fmt: skip
    spaces = [BertSpace(precision=("fp32", "int8")), LayerwiseSpace(kind="per_layer", precision=("fp32", "int8")), tune]
    for space in spaces:
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        seen = set()
        for _ in range(12):
            trial = study.ask()
            config = space(trial)
            seen.add(Arch.from_dict(config.get("arch", config)).precision)
            study.tell(trial, 0.0)
        assert seen == {"fp32", "int8"}, type(space).__name__
        assert space.smallest().precision == "int8"  # the fastest point
    study = optuna.create_study()
    BertSpace()(trial := study.ask())
    assert "precision" not in trial.params  # one precision: the same parameters as before
    with pytest.raises(ValueError, match="precision: give one of"):
        TuneSpace(tune={"num_layers": 2, "hidden_size": 64, "num_heads": 2, "intermediate_size": 128,
                        "precision": {"choice": ["fp16"]}})  # fmt: skip
