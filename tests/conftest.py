"""Fixtures shared by the suite: one real local Ray, and a TVM tuning database tuned once."""

import shutil

import pytest
import ray

from search_spaces import Arch

#: The architecture most tests compile: its operator shapes tune in seconds.
TINY = Arch(1, 32, 2, 64)


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


@pytest.fixture(scope="session")
def _tuned_tiny(tmp_path_factory):
    """A cache directory whose local-cpu tuning database holds TINY's hot operator shapes
    (``min_flops_share`` 0.1) at sequence length 16, tuned once for the whole session."""
    from device_profilers import DeviceProfiler, MeasureProtocol, TuningSettings, local_cpu

    cache = tmp_path_factory.mktemp("tuned-tiny")
    hot_tasks = TuningSettings(trials_per_task=4, min_flops_share=0.1)
    DeviceProfiler(local_cpu(), str(cache), hot_tasks, MeasureProtocol()).tune(TINY, 1, 16)
    return cache


@pytest.fixture
def tuned_cache(_tuned_tiny, tmp_path):
    """A fresh cache directory of this test's own, starting with TINY's shapes already tuned."""
    cache = tmp_path / "tuned-cache"
    shutil.copytree(_tuned_tiny, cache)
    return cache


def pytest_sessionfinish(session, exitstatus):
    ray.shutdown()
