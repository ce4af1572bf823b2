"""Persistent latency cache, one sqlite file shared by every run on this machine."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

from ..latency import Latency

#: The newest field every measurement records: an entry without it is from an older canao.
RECORDED_SINCE = "model_bytes"


class LatencyCache:
    """Latencies keyed by model and ``MeasureTarget`` (``MeasureTarget.cache_key``).

    sqlite gives atomic writes (a killed process leaves the last committed state) and
    safe concurrent readers; values are JSON, never pickle.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS latency (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @contextmanager
    def _connect(self):
        """One short-lived connection per call, committed on success and always closed."""
        with closing(sqlite3.connect(self.path, timeout=30)) as db, db:
            yield db

    def get(self, key: str) -> Latency | None:
        """The latency stored under ``key``; None for one written before measurements
        recorded the model's size and memory (measured again, then replaced)."""
        with self._connect() as db:
            row = db.execute("SELECT value FROM latency WHERE key = ?", (key,)).fetchone()
        values = json.loads(row[0]) if row else {}
        return Latency.from_dict(values) if RECORDED_SINCE in values else None

    def put(self, key: str, latency: Latency) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO latency (key, value) VALUES (?, ?)",
                (key, json.dumps(latency.to_dict())),
            )

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM latency").fetchone()[0]
