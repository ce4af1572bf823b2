"""experiments/tune_param_space.py, run as a user runs its ``main``: a plain Tune script
whose ``param_space`` has a ``tune.choice`` per layer, searched by canao's searcher and
trained by canao's trainable on the shared local Ray. ONNX Runtime stands in for TVM to
keep the test short (the broker path is the same)."""

import pytest
from experiment_scripts import load_script

from search_spaces import Arch

pytestmark = pytest.mark.slow
QUICK = "{warmup: 1, repeats: 5, min_repeat_ms: 5, blocks: 2, block_pause_s: 0, max_blocks: 3, quiet_wait_s: 0}"


def test_a_plain_tune_script_searches_a_space_with_a_choice_per_layer(ray_cluster, tmp_path, capsys):
    script = load_script("tune_param_space")
    args = ["--num-samples", "3", "--backend", "ort", "--epochs", "2", "--num-train", "64", "--out",
            str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "--protocol", QUICK]  # fmt: skip
    assert script.main(args) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if ": score " in line]
    assert len(lines) == 3 and all(" ms, epochs " in line for line in lines)
    archs = [Arch.from_key(line.split(":")[0]) for line in lines]
    assert len(set(archs)) == 3  # no architecture trained twice, though the unused layers' choices differ
    assert all(arch.hidden_size == 64 and arch.head_dim == 16 for arch in archs)
