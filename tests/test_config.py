import pytest

from canao_ray.config import ConfigError, SearchConfig


def test_default_is_the_quickstart_and_round_trips():
    config = SearchConfig()
    assert config.search.num_samples >= 8
    assert SearchConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "values, message",
    [
        ({"laytency": {}}, "unknown key 'laytency'"),
        ({"latency": {"budget": 1}}, "unknown key 'latency.budget'"),
        ({"latency": {"budget_ms": -1}}, "latency.budget_ms must be a positive"),
        ({"latency": {"backend": "tensorrt"}}, "unknown backend"),
        ({"latency": {"device": "pixel7"}}, "unknown device"),
        ({"space": {"num_layers": []}}, "num_layers is empty"),
        ({"search": {"num_samples": "8"}}, "search.num_samples must be an integer"),
        ({"search": {"sampler": "cmaes"}}, "unknown sampler"),
        ({"training": {"learning_rate": 0}}, "learning_rate must be positive"),
        ({"latency": {"tuning": {"trials_per_task": -1}}}, "trials_per_task"),
        ([1, 2], "must be a mapping"),
        (
            {"latency": {"device": "board", "rpc": {"tracker": "nohost", "key": "board"}}},
            "latency.rpc: RPC tracker must be given as host:port",
        ),
        (
            {"latency": {"device": "board", "backend": "ort", "rpc": {"tracker": "127.0.0.1:9190", "key": "board"}}},
            "measured with 'tvm'",
        ),
        (
            {"latency": {"rpc": {"tracker": "127.0.0.1:9190", "key": "board", "target": "llvm"}}},
            "rpc.target must be a mapping",
        ),
        ({"scheduler": {"kind": "hyperband"}}, "unknown scheduler"),
    ],
)
def test_bad_values_raise_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message) as info:
        SearchConfig.from_dict(values)
    assert "\n" not in str(info.value)


def test_remote_device_config_builds_an_rpc_device():
    config = SearchConfig.from_dict(
        {
            "latency": {
                "device": "board",
                "rpc": {
                    "tracker": "10.0.0.2:9190",
                    "key": "rk3588",
                    "num_threads": 4,
                    "target": {"kind": "llvm", "mtriple": "aarch64-linux-gnu"},
                },
            }
        }
    )
    device = config.latency.make_device()
    assert device.name == "board" and device.num_threads == 4
    assert (device.rpc.tracker_host, device.rpc.tracker_port, device.rpc.key) == ("10.0.0.2", 9190, "rk3588")
    assert device.target == {"kind": "llvm", "mtriple": "aarch64-linux-gnu", "num-cores": 4}


def test_yaml_file_and_missing_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("latency:\n  budget_ms: 2.5\nsearch:\n  num_samples: 3\n")
    config = SearchConfig.from_yaml(path)
    assert config.latency.budget_ms == 2.5 and config.search.num_samples == 3
    with pytest.raises(ConfigError, match="does not exist"):
        SearchConfig.from_yaml(tmp_path / "missing.yaml")


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CANAO_CACHE_DIR", raising=False)
    assert SearchConfig().resolved_cache_dir() == tmp_path / "xdg" / "canao-ray"
    monkeypatch.setenv("CANAO_CACHE_DIR", str(tmp_path / "env"))
    assert SearchConfig().resolved_cache_dir() == tmp_path / "env"
    assert SearchConfig(cache_dir=str(tmp_path / "cfg")).resolved_cache_dir() == tmp_path / "cfg"


def test_the_config_reference_in_docs_matches_the_schema():
    """docs/config.md is generated: regenerate it with python -m canao_ray.config.reference."""
    from pathlib import Path

    from canao_ray.config.reference import config_reference

    assert (Path(__file__).resolve().parents[1] / "docs" / "config.md").read_text() == config_reference()


def test_the_sst2_experiment_config_reads_and_points_nowhere_outside_the_repository():
    from experiment_scripts import EXPERIMENTS

    config = SearchConfig.from_yaml(EXPERIMENTS / "canao_sst2.yaml")
    assert config.task.name == "sst2" and config.task.data_dir is None  # given with --data-dir
    assert config.latency.budget_ms == 31.0 and config.finalize.training.ema_decay == 0.9995
