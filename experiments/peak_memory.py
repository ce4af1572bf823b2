"""Run a command and print the peak memory of it and all its descendants (Ray's included).

Samples every 0.5 s: the sum of RSS (over-counts shared pages) and of USS (pages owned
by one process only, a lower bound). Usage: python experiments/peak_memory.py -- canao search
"""

import subprocess
import sys
import time

import psutil


def tree_memory(root: psutil.Process) -> tuple[int, int]:
    rss = uss = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        uss += info.uss
    return rss, uss


def main() -> int:
    command = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    child = subprocess.Popen(command)
    root = psutil.Process(child.pid)
    peak_rss = peak_uss = 0
    while child.poll() is None:
        rss, uss = tree_memory(root)
        peak_rss, peak_uss = max(peak_rss, rss), max(peak_uss, uss)
        time.sleep(0.5)
    gib = 1024**3
    print(f"peak memory, all processes: RSS sum {peak_rss / gib:.2f} GiB, USS sum {peak_uss / gib:.2f} GiB")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
