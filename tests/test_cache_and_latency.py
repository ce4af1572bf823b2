from device_profilers import Latency, LatencyCache, MeasureProtocol, MeasureTarget
from device_profilers.measurement import summarize, time_callable


def _latency(median=1.0):
    return Latency("L1-H64-A2-I128", "local-cpu", "tvm", 1, 32, median, 1.2, 1.05, 0.01, 0.9, 30)


def test_cache_key_separates_every_dimension():
    keys = {
        MeasureTarget("local-cpu", "tvm", 1, 128).cache_key("a"),
        MeasureTarget("local-cpu", "tvm", 1, 128).cache_key("b"),
        MeasureTarget("other", "tvm", 1, 128).cache_key("a"),
        MeasureTarget("local-cpu", "ort", 1, 128).cache_key("a"),
        MeasureTarget("local-cpu", "tvm", 2, 128).cache_key("a"),
        MeasureTarget("local-cpu", "tvm", 1, 64).cache_key("a"),
    }
    assert len(keys) == 6
    # The format caches on disk were written with: they must keep reading.
    assert MeasureTarget("local-cpu", "tvm", 1, 16).cache_key("L1") == "L1|local-cpu|tvm|b1|s16"


def test_cache_persists_across_instances(tmp_path):
    path = tmp_path / "latency.sqlite"
    LatencyCache(path).put("k", _latency(2.5))
    again = LatencyCache(path)
    assert again.get("k") == _latency(2.5)
    assert again.get("missing") is None
    assert len(again) == 1


def test_summary_takes_the_quietest_block():
    quiet = [float(v) for v in range(1, 11)]
    loaded = [2 * v for v in quiet]  # another process held a core during this block
    stats = summarize([loaded, quiet, loaded])
    assert stats["median_ms"] == 5.5 and stats["min_ms"] == 1.0 and stats["p90_ms"] == 9.0
    assert stats["repeats"] == 10 and stats["block_medians_ms"] == (11.0, 5.5, 11.0)


def test_time_callable_follows_protocol():
    calls = []
    protocol = MeasureProtocol(warmup=2, repeats=5, min_repeat_ms=1, blocks=2, block_pause_s=0, max_blocks=4)
    blocks = time_callable(lambda: calls.append(1), protocol)
    assert 2 <= len(blocks) <= 4 and all(len(block) == 5 for block in blocks) and len(calls) > 12


def test_slow_models_get_shorter_blocks():
    protocol = MeasureProtocol(repeats=15, min_repeat_ms=25, block_ms=1000, min_block_repeats=5)
    assert protocol.block_repeats(0.3) == 15  # samples last min_repeat_ms: 15 fit in a second
    assert protocol.block_repeats(100.0) == 10
    assert protocol.block_repeats(400.0) == 5  # never fewer than min_block_repeats


def test_protocol_takes_blocks_until_two_quiet_ones_agree():
    protocol = MeasureProtocol(blocks=3, max_blocks=6, agree=0.03)
    assert not protocol.settled([1.0, 1.5])  # fewer than `blocks`
    assert not protocol.settled([1.0, 1.5, 1.4])  # one quiet block may be luck
    assert protocol.settled([1.0, 1.5, 1.02])
    assert protocol.settled([1.0, 1.5, 1.4, 1.3, 1.2, 1.1])  # max_blocks
