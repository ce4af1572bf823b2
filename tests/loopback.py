"""TVM RPC devices on loopback: a tracker and servers of this machine's CPU under a device
key, registered exactly as a phone or a board would register (only the device itself
cannot exist here)."""

import os
from contextlib import contextmanager


@contextmanager
def rpc_loopback(key: str, servers: int, threads: int):
    """A tracker and ``servers`` RPC servers of ``key`` on loopback, each timing with
    ``threads`` (set in the environment the server starts in, as a device owner does);
    yields the tracker's address."""
    from tvm.rpc import server as rpc_server
    from tvm.rpc import tracker as rpc_tracker

    os.environ["TVM_NUM_THREADS"] = str(threads)
    tracker = rpc_tracker.Tracker("127.0.0.1", port=9190, port_end=9290, silent=True)
    address = ("127.0.0.1", tracker.port)
    started = [
        rpc_server.Server("127.0.0.1", port=9300, port_end=9400, key=key, tracker_addr=address, silent=True)
        for _ in range(servers)
    ]
    try:
        yield f"127.0.0.1:{tracker.port}"
    finally:
        for server in started:
            server.terminate()
        tracker.terminate()
