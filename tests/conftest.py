import pytest
import ray


@pytest.fixture
def ray_cluster():
    """A real local Ray cluster of this machine's size (2 CPUs), shut down after the test."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
