"""The measurement protocol of tests that check what a run does, not the latencies it reads."""

#: Two short blocks and no wait for quiet cores.
QUICK_PROTOCOL = {
    "warmup": 1,
    "repeats": 5,
    "min_repeat_ms": 5,
    "blocks": 2,
    "block_pause_s": 0,
    "max_blocks": 3,
    "quiet_wait_s": 0,
}
