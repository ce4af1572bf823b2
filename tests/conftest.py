"""Fixtures shared by the suite: one real local Ray, and a TVM tuning database tuned once."""

import shutil

import pytest
import ray

from search_spaces import Arch

#: The architecture most tests compile: its operator shapes tune in seconds.
TINY = Arch.uniform(1, 32, 2, 64)


def start_local_ray() -> None:
    """The suite's one local Ray of this machine's size (2 CPUs), started if none is running."""
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)


@pytest.fixture
def ray_cluster():
    """A real local Ray, shared by every test that only needs one (started once, and again
    after a test that needed its own cluster shut it down)."""
    start_local_ray()
    yield


@pytest.fixture
def own_ray():
    """For a test that starts its own Ray (a ``ray.cluster_utils.Cluster``): the shared one
    is shut down first and the test's is shut down after it."""
    ray.shutdown()
    yield
    ray.shutdown()


#: ``canao tune``'s config for a space whose one layer shape is TINY's, at sequence length
#: 16, tuning only the operators holding 10% or more of the FLOPs (four matmuls, handed to
#: MetaSchedule instead of the matmul rule so that there is something to tune).
TINY_TUNE_CONFIG = {
    "task": {"seq_len": 16},
    "space": {"num_layers": [1, 2], "num_heads": [2], "head_dim": [16], "ffn_ratio": [2]},
    "latency": {"tuning": {"matmuls": "tune", "trials_per_task": 4, "min_flops_share": 0.1}},
}


@pytest.fixture(scope="session")
def _tuned_tiny(tmp_path_factory):
    """A cache directory whose local-cpu tuning database holds TINY's hot operator shapes,
    tuned once for the whole session by ``canao tune``'s ``pretune``, and its totals."""
    from canao_ray import SearchConfig
    from canao_ray.search import pretune

    cache = tmp_path_factory.mktemp("tuned-tiny")
    return cache, pretune(SearchConfig.from_dict({**TINY_TUNE_CONFIG, "cache_dir": str(cache)}))


@pytest.fixture
def tiny_tuning(_tuned_tiny):
    """What tuning TINY's shapes into an empty database did (``pretune``'s totals)."""
    return _tuned_tiny[1]


@pytest.fixture
def tuned_cache(_tuned_tiny, tmp_path):
    """A fresh cache directory of this test's own, starting with TINY's shapes already tuned."""
    cache = tmp_path / "tuned-cache"
    shutil.copytree(_tuned_tiny[0], cache)
    return cache


def pytest_sessionfinish(session, exitstatus):
    ray.shutdown()
