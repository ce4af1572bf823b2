"""The ``canao`` command."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .config import ConfigError, SearchConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="canao", description="Compiler-aware architecture search on Ray Tune.")
    commands = parser.add_subparsers(dest="command", required=True)
    search = commands.add_parser("search", help="run a search (no arguments: the embedded quickstart)")
    search.add_argument("--config", type=Path, help="YAML config file (default: the embedded quickstart)")
    search.add_argument("--out", type=Path, help="run directory (default: canao_runs/<name>-<time>)")
    args = parser.parse_args(argv)
    try:
        config = SearchConfig.from_yaml(args.config) if args.config else SearchConfig()
        out = args.out or Path("canao_runs") / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        from .search import run_search

        run_dir = run_search(config, out)
    except ConfigError as error:
        print(f"canao: error: {error}", file=sys.stderr)
        return 2
    print(f"canao: run directory {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
