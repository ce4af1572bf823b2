"""Scale-out on a real Ray cluster (``ray.cluster_utils.Cluster``, every node on this
machine): the search joins it with ``--address`` (``canao_ray.cli.main`` in this process,
as the driver), trials run where there are CPUs, and latency is measured only on the
nodes that carry the device's resource: two of them, each one replica of the device, so
the measurements are split between the two.

Latency comes from ONNX Runtime to keep the test short; placement does not depend on
the backend."""

import json

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
space: {num_layers: [1, 2, 3, 4], num_heads: [2], head_dim: [16], ffn_ratio: [2]}
search: {num_samples: 3, sampler: random, trial_cpus: 1, max_concurrent_trials: 2}
latency: {budget_ms: 1000.0, backend: ort, use_cache: false, replicas: 2, resources: {%s: 1}, protocol: {warmup: 1, repeats: 5, min_repeat_ms: 5, blocks: 2, block_pause_s: 0, max_blocks: 3, quiet_wait_s: 0}}
training: {epochs: 1}
"""


@pytest.fixture(scope="module")
def two_nodes():
    """A head node with the CPUs for trials, and two nodes with no CPUs but one device
    each (two replicas of one device kind); the suite's shared Ray is shut down first (a
    driver joins one cluster at a time)."""
    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    device_nodes = [cluster.add_node(num_cpus=0, resources={DEVICE_RESOURCE: 1}) for _ in range(2)]
    cluster.wait_for_nodes()
    yield cluster, device_nodes
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


def test_latency_is_measured_on_the_nodes_with_the_device_split_between_its_replicas(tmp_path, two_nodes):
    cluster, device_nodes = two_nodes
    code, run_dir = _search(tmp_path, cluster, DEVICE_RESOURCE)
    assert code == 0
    latencies = [record["latency"] for record in read_records(run_dir / "trials.jsonl")]
    assert len(latencies) == 3
    assert {latency["node"] for latency in latencies} == {node.node_id for node in device_nodes}
    assert {latency["replica"] for latency in latencies} == {0, 1}
    (replicas,) = json.loads((run_dir / "replicas.json").read_text())  # each replica's calibration
    assert [row["replica"] for row in replicas["replicas"]] == [0, 1] and replicas["tolerance"] == 0.1
    assert "Replicas of local-cpu" in (run_dir / "report.md").read_text()


def test_a_profiler_is_placed_on_a_node_that_offers_its_device(tmp_path, two_nodes):
    """One replica of a device whose resource two nodes offer: its profiler runs on one of
    them, never on the head, and measures from there."""
    from device_profilers import Device, MeasureProtocol, TuningSettings, local_cpu, measure_latency, running_broker
    from device_profilers.devices import host_target
    from search_spaces import Arch

    _, device_nodes = two_nodes
    ray.init(address=two_nodes[0].address, log_to_driver=False, ignore_reinit_error=True)
    edge = Device("edge", target=host_target(1), num_threads=1, resources={DEVICE_RESOURCE: 1})
    one_block = MeasureProtocol(warmup=1, repeats=3, min_repeat_ms=2, blocks=1, block_pause_s=0, max_blocks=1)
    with running_broker([local_cpu(1), edge], str(tmp_path), TuningSettings(trials_per_task=0), one_block) as broker:
        assert ray.get(broker.profiler_nodes.remote())["edge"] in {node.node_id for node in device_nodes}
        latency = measure_latency(Arch.uniform(1, 32, 2, 64), device="edge", backend="ort", seq_len=16)
    assert latency.device == "edge" and latency.median_ms > 0
