"""Scale-out on a real two-node Ray cluster (``ray.cluster_utils.Cluster``, both nodes on
this machine): the search joins it with ``--address`` (``canao_ray.cli.main`` in this
process, as the driver), trials run where there are CPUs, and latency is measured only on
the node that carries the device's resource.

Latency comes from ONNX Runtime to keep the test short; placement does not depend on
the backend."""

import pytest
import ray
from ray.cluster_utils import Cluster

from canao_ray.cli import main
from device_profilers.files import read_records

pytestmark = pytest.mark.slow

DEVICE_RESOURCE = "canao-test-board"
CONFIG = """
name: cluster
task: {num_train: 200, num_dev: 100, seq_len: 16}
space: {num_layers: [1, 2], num_heads: [2], head_dim: [16], ffn_ratio: [2]}
search: {num_samples: 2, sampler: random}
latency: {budget_ms: 1000.0, backend: ort, resources: {%s: 1}, protocol: {warmup: 1, repeats: 5, min_repeat_ms: 5, blocks: 2, block_pause_s: 0, max_blocks: 3, quiet_wait_s: 0}}
training: {epochs: 1}
"""


@pytest.fixture(scope="module")
def two_nodes():
    """A head node with the CPUs for trials, and a node with no CPUs but the device; the
    suite's shared Ray is shut down first (a driver joins one cluster at a time)."""
    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    device_node = cluster.add_node(num_cpus=0, resources={DEVICE_RESOURCE: 1})
    cluster.wait_for_nodes()
    yield cluster, device_node
    ray.shutdown()
    cluster.shutdown()


def _search(tmp_path, cluster, resource):
    config = tmp_path / f"{resource}.yaml"
    config.write_text(CONFIG % resource + f"cache_dir: {tmp_path / 'cache'}\n")
    out = tmp_path / resource
    return main(["search", "--config", str(config), "--out", str(out), "--address", cluster.address]), out


def test_a_device_no_node_offers_is_refused_before_anything_is_written(tmp_path, two_nodes, capsys):
    cluster, _ = two_nodes
    code, run_dir = _search(tmp_path, cluster, "no-such-board")
    stderr = capsys.readouterr().err
    assert code == 2
    assert "no node of the Ray cluster offers {'no-such-board': 1}" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert not run_dir.exists()


def test_latency_is_measured_on_the_node_with_the_device(tmp_path, two_nodes):
    cluster, device_node = two_nodes
    code, run_dir = _search(tmp_path, cluster, DEVICE_RESOURCE)
    assert code == 0
    records = read_records(run_dir / "trials.jsonl")
    assert len(records) == 2
    assert {r["latency"]["node"] for r in records} == {device_node.node_id}
