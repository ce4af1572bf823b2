"""Per-layer architectures and spaces in Ray Tune's vocabulary: the Arch value, its models,
inheritance per layer, and the same study from the YAML and the Python spelling."""

import json

import optuna
import pytest
import torch
from ray import tune
from ray.tune.search.optuna import OptunaSearch
from transformers import BertForSequenceClassification

from canao_ray import ConstrainedOptunaSearch, SearchConfig, load_model
from canao_ray.keys import MODES, OBJECTIVES
from canao_ray.models import family_of, shape_model
from canao_ray.search.samplers import make_sampler
from canao_ray.teacher import Importance, inherit, select
from device_profilers.service.predictor import shape_features
from search_spaces import Arch, BertSpace, LayerwiseSpace, TuneSpace, bert_classifier

LAYERWISE = Arch.per_layer(96, 16, [6, 2, 4], [192, 64, 128])

PER_LAYER_SPACE = {
    "num_layers": tune.choice([1, 2, 3]),
    "hidden_size": 64,
    "head_dim": 16,
    "layers": [
        {"num_heads": tune.choice([1, 2, 4]), "intermediate_size": tune.qrandint(64, 128, 64)} for _ in range(3)
    ],
}
PER_LAYER_YAML = """
space:
  num_layers: {choice: [1, 2, 3]}
  hidden_size: 64
  head_dim: 16
  layers:
    - {num_heads: {choice: [1, 2, 4]}, intermediate_size: {qrandint: [64, 128, 64]}}
    - {num_heads: {choice: [1, 2, 4]}, intermediate_size: {qrandint: [64, 128, 64]}}
    - {num_heads: {choice: [1, 2, 4]}, intermediate_size: {qrandint: [64, 128, 64]}}
search: {sampler: nsga2, population_size: 4, seed: 3}
"""


def test_uniform_archs_keep_their_keys_and_dicts():
    arch = Arch.uniform(4, 256, 4, 1024)
    assert arch.key == "L4-H256-A4-I1024" and arch.is_uniform and arch.head_dim == 64
    stored = {"num_layers": 4, "hidden_size": 256, "num_heads": 4, "intermediate_size": 1024}  # as runs stored it
    assert arch.to_dict() == stored and Arch.from_dict(stored) == arch == Arch.from_key("L4-H256-A4-I1024")
    # The same shape written per layer is the same Arch, with the same key.
    assert Arch.per_layer(256, 64, [4] * 4, [1024] * 4) == arch


def test_a_per_layer_arch_has_a_readable_key_that_reads_back():
    assert LAYERWISE.key == "L3-H96-D16-A6.2.4-I192.64.128" and not LAYERWISE.is_uniform
    assert Arch.from_key(LAYERWISE.key) == LAYERWISE == Arch.from_dict(json.loads(json.dumps(LAYERWISE.to_dict())))
    assert Arch.from_key("L2-H96-D16-A2-I64") == Arch.per_layer(96, 16, [2, 2], [64, 64])
    assert Arch.parse('{"hidden_size": 96, "head_dim": 16, "layers": [{"num_heads": 2, "ffn_ratio": 2}]}').key == (
        "L1-H96-D16-A2-I192"
    )
    with pytest.raises(ValueError, match="has a different num_heads per layer"):
        _ = LAYERWISE.num_heads
    with pytest.raises(ValueError, match="8 heads of 16 span 128, over the hidden size 96"):
        Arch.per_layer(96, 16, [8], [64])
    # Parameters count each layer at its own width: the model built has exactly these.
    model = bert_classifier(LAYERWISE, vocab_size=50, max_position_embeddings=16)
    assert sum(p.numel() for p in model.bert.encoder.parameters()) == LAYERWISE.encoder_params()


def test_latency_features_of_uniform_archs_are_unchanged():
    """Stored latency tables and the predictor's fits were made with per-arch features
    ``n * (s*h*h, s*s*h, s*h*f, s*(h+f), a*s*s)``: a uniform Arch still gets exactly those."""
    arch, s = Arch.uniform(3, 128, 4, 512), 64
    n, h, f, a = 3, 128, 512, 4
    old = [n * s * h * h, n * s * s * h, n * s * h * f, n * s * (h + f), n * a * s * s, s * h, 1.0]
    assert shape_features(arch, 1, s).tolist() == old


def test_the_python_and_yaml_spellings_give_the_same_space_and_study(tmp_path):
    (tmp_path / "c.yaml").write_text(PER_LAYER_YAML)
    from_yaml = SearchConfig.from_yaml(tmp_path / "c.yaml")
    from_python = SearchConfig(space=PER_LAYER_SPACE, search=from_yaml.search)
    assert isinstance(from_yaml.space, TuneSpace) and from_yaml.space == from_python.space

    def suggested(config: SearchConfig) -> list[str]:
        searcher = ConstrainedOptunaSearch(
            space=config.space, metric=list(OBJECTIVES), mode=list(MODES), sampler=make_sampler(config)
        )
        keys = []
        for index in range(10):
            point = searcher.suggest(str(index))
            arch = Arch.from_dict(point)
            keys.append(arch.key)
            score = 1 - 1 / arch.encoder_params()  # a fixed answer per architecture: both studies see the same
            searcher.on_trial_complete(str(index), {"score": score, "latency_ms": arch.encoder_flops(16) / 1e6})
        return keys

    keys = suggested(from_yaml)
    assert keys == suggested(from_python)
    assert len(set(keys)) == len(keys)  # a repeated architecture is answered, not suggested again
    assert any(not Arch.from_key(key).is_uniform for key in keys)


def test_a_tune_param_space_with_a_list_per_layer_is_sampled_where_rays_conversion_fails():
    with pytest.raises(TypeError):
        OptunaSearch.convert_search_space(PER_LAYER_SPACE)
    searcher = ConstrainedOptunaSearch(metric=list(OBJECTIVES), mode=list(MODES), seed=0)
    assert searcher.set_search_properties(None, None, PER_LAYER_SPACE)  # what Tuner(param_space=...) calls
    config = searcher.suggest("t")
    assert config["hidden_size"] == 64 and len(config["layers"]) == 3
    assert set(searcher._ot_trials["t"].params) >= {"num_layers", "layers/0/num_heads", "layers/2/intermediate_size"}
    assert Arch.from_dict(config).num_layers == config["num_layers"]


def test_the_per_layer_space_samples_only_the_layers_its_depth_has():
    space = LayerwiseSpace(
        kind="per_layer", num_layers=(1, 3, 5), hidden_size=(64,), head_dim=(16,), num_heads=(1, 4), group_size=2
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        arch = Arch.from_dict(space(trial)["arch"])
        groups = {name.split("/")[1] for name in trial.params if name.startswith("layers/")}
        assert len(groups) == -(-arch.num_layers // 2) and space.arch(trial.params) == arch
        assert all(arch.layers[i] == arch.layers[i + 1] for i in range(0, arch.num_layers - 1, 2))  # pairs share
        study.tell(trial, 0.0)
    keys = {a.key for a in space.shape_representatives()}
    assert keys == {"L1-H64-D16-A1-I128", "L1-H64-D16-A1-I256", "L1-H64-A4-I128", "L1-H64-A4-I256"}
    assert space.smallest().key == "L1-H64-D16-A1-I128"


def test_old_run_configs_and_fronts_still_read():
    stored = {"space": {"num_layers": [1, 2], "num_heads": [2], "head_dim": [16], "ffn_ratio": [2]}}
    config = SearchConfig.from_dict(stored)
    assert isinstance(config.space, BertSpace)
    assert config.space.arch({"num_layers": 2, "num_heads": 2, "head_dim": 16, "ffn_ratio": 2}).key == "L2-H32-A2-I64"
    assert SearchConfig.from_dict(config.to_dict()) == config


def _teacher():
    return bert_classifier(Arch.uniform(3, 96, 6, 192), vocab_size=50, max_position_embeddings=40).eval()


def test_each_layer_inherits_its_own_teacher_layers_most_important_heads_and_units():
    torch.manual_seed(0)
    teacher = _teacher()
    scores = Importance(
        layers=torch.tensor([1.0, 3.0, 2.0]),
        heads=torch.tensor([[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [0, 5, 1, 4, 2, 3]], dtype=torch.float),
        ffn=torch.randn(3, 192, generator=torch.Generator().manual_seed(2)),
        hidden=torch.arange(96, dtype=torch.float),
    )
    arch = Arch.per_layer(96, 16, [4, 1, 2], [64, 32, 128])  # every layer cut its own way
    selection = select(arch, teacher.config, scores)
    assert selection.layers == (0, 1, 2)
    heads = [sorted({int(row) // 16 for row in rows}) for rows in selection.attention]
    assert heads == [[2, 3, 4, 5], [0], [1, 3]]  # each layer's top heads by its own scores
    assert [len(units) for units in selection.ffn] == [64, 32, 128]
    torch.manual_seed(1)
    config = family_of(teacher.config).student_config(arch, teacher.config, 40)
    model = shape_model(BertForSequenceClassification(config), arch)
    inherit(model, teacher, selection)
    layers = zip(model.bert.encoder.layer, selection.layers, selection.attention, selection.ffn)
    for layer, teacher_index, rows, units in layers:
        source = teacher.bert.encoder.layer[teacher_index]
        assert torch.equal(layer.attention.self.query.weight, source.attention.self.query.weight[rows])
        assert torch.equal(layer.intermediate.dense.weight, source.intermediate.dense.weight[units])


@pytest.mark.parametrize("family", ["bert", "distilbert"])
def test_a_per_layer_model_saves_and_loads_back_with_one_call(family, tmp_path):
    from transformers import AutoModelForSequenceClassification, BertConfig, DistilBertConfig

    frame = {
        "bert": BertConfig(vocab_size=50, hidden_size=96, num_attention_heads=6, intermediate_size=192),
        "distilbert": DistilBertConfig(vocab_size=50, dim=96, n_heads=6, hidden_dim=192),
    }[family]
    config = family_of(frame).student_config(LAYERWISE, frame, 16)
    model = shape_model(AutoModelForSequenceClassification.from_config(config), LAYERWISE).eval()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["canao_arch"] == LAYERWISE.to_dict()
    loaded = load_model(tmp_path)
    ids = torch.randint(0, 50, (2, 16), generator=torch.Generator().manual_seed(0))
    assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
