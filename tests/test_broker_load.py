"""The broker under load, on real Ray: 200 requests from 16 concurrent clients.

Each distinct (architecture, backend) request must be measured once (the cache answers
repeats that come later, coalescing answers those that come while it is measured), and
the timings of the one device must never overlap. ONNX Runtime and PyTorch keep each
measurement short; the broker path is the same as TVM's. The clients are threads of the
driver, each with its own stream of calls to the broker actor, as trials would have
(16 Ray worker processes would spend minutes importing torch on a 2-core machine).
"""

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
import ray

from device_profilers import MeasureProtocol, get_broker, local_cpu, measure_latency, running_broker
from search_spaces import Arch

pytestmark = pytest.mark.slow  # real Ray, TVM or processes

ARCHS = [Arch.uniform(layers, 32, 2, ffn) for layers, ffn in itertools.product((1, 2), (32, 64, 128))]
BACKENDS = ("ort", "torch")
DISTINCT = [(arch, backend) for arch in ARCHS for backend in BACKENDS]  # 12 distinct requests
CLIENTS, PER_CLIENT = 16, 13  # 208 requests in all
SHORT = MeasureProtocol(warmup=1, repeats=3, min_repeat_ms=2, blocks=1, block_pause_s=0, max_blocks=1, quiet_wait_s=0)


def client(index: int) -> list[dict]:
    """A trial-like caller: asks for its share of requests one after another."""
    answers = []
    for step in range(PER_CLIENT):
        arch, backend = DISTINCT[(index * 5 + step) % len(DISTINCT)]
        answers.append(measure_latency(arch, "local-cpu", backend, 1, 16).to_dict())
    return answers


def test_two_hundred_concurrent_requests_are_all_answered_and_measured_once(ray_cluster, tmp_path):
    with running_broker([local_cpu()], str(tmp_path), protocol=SHORT):
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = [a for batch in pool.map(client, range(CLIENTS)) for a in batch]
        measurements = ray.get(get_broker().measurements.remote())

    assert len(answers) == CLIENTS * PER_CLIENT
    assert all(a["median_ms"] > 0 for a in answers)
    asked = {(a["arch_key"], a["backend"]) for a in answers}
    assert asked == {(arch.key, backend) for arch, backend in DISTINCT}
    assert measurements == len(DISTINCT)
    measured = [a for a in answers if not a["cached"]]
    assert sorted((a["arch_key"], a["backend"]) for a in measured) == sorted((arch.key, b) for arch, b in DISTINCT)
    # Every answer to a request carries the one measurement of that request.
    by_request = {}
    for a in answers:
        by_request.setdefault((a["arch_key"], a["backend"]), set()).add(a["median_ms"])
    assert all(len(medians) == 1 for medians in by_request.values())
    spans = sorted((a["started_at"], a["measured_at"]) for a in measured)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans
