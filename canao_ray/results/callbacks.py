"""Tune callbacks that record a search as it runs: the trial log, console lines, the hypervolume."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from ray import tune

from device_profilers.files import append_record, read_records, trim_partial_line
from search_spaces import Arch

from ..data.metrics import METRICS
from ..keys import CONSTRAINT_KEY, FEASIBLE, FINAL_KEY, LOGGED_METRICS, OBJECTIVES, OTHER_LATENCIES
from .hypervolume import hypervolume

#: Written by ``HypervolumeHistory`` as trials end, plotted by ``write_report``.
HYPERVOLUME_FILE = "hypervolume.jsonl"
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Exit|Interrupt)(: |$)")


def trial_arch(config: dict) -> Arch | None:
    """The Arch a trial's config names (under ``arch``, or a Tune space's resolved point),
    or None for a config that names none."""
    try:
        return Arch.from_dict(config.get("arch", config))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


class TrialsLog(tune.Callback):
    """Appends one JSON object per finished trial (flushed and fsynced line by line).

    A resumed search keeps the file: trials already logged by the interrupted driver are
    not logged again, even when Tune reruns one that ended after its last checkpoint.
    ``metrics``: the objectives, logged together under ``objectives``.
    """

    def __init__(self, path: Path, metrics: Sequence[str] = OBJECTIVES):
        self.path = Path(path)
        self.metrics = list(metrics)
        self.logged: set[str] = set()

    def setup(self, **info):
        trim_partial_line(self.path)
        self.logged = {record["trial_id"] for record in read_records(self.path)}

    def _write(self, trial, status: str) -> None:
        if trial.trial_id in self.logged:
            return
        result = trial.last_result or {}
        arch = trial_arch(trial.config)
        record = {
            "trial_id": trial.trial_id,
            "arch": arch.to_dict() if arch else None,
            "arch_key": arch.key if arch else None,
            "status": status,
            "metrics": {k: result.get(k) for k in (*LOGGED_METRICS, *METRICS) if k in result},
            "objectives": {m: result.get(m) for m in self.metrics},
            "latency": {
                "median_ms": result.get("latency_ms"),
                "p90_ms": result.get("latency_p90_ms"),
                "backend": result.get("latency_backend"),
                "device": result.get("latency_device"),
                "node": result.get("latency_node"),
                "replica": result.get("latency_replica"),
                "predicted_ms": result.get("latency_predicted_ms"),
                "cached": result.get("latency_cached"),
            },
            **({OTHER_LATENCIES: result[OTHER_LATENCIES]} if OTHER_LATENCIES in result else {}),
            **({"error": error_reason(trial.error_file), "error_file": trial.error_file} if status == "ERROR" else {}),
        }
        append_record(self.path, record)
        self.logged.add(trial.trial_id)

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        if not result.get(FEASIBLE, True):
            status = "INFEASIBLE"
        elif result.get(FINAL_KEY) is False:
            status = "STOPPED"  # by the scheduler, before its last epoch
        else:
            status = "TERMINATED"
        self._write(trial, status)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._write(trial, "ERROR")


def error_reason(error_file: str | None) -> str:
    """The exception that ended a trial, from the text trace Tune saved: the last line
    naming an exception, or else (a dead actor, which Ray describes in prose over
    several lines) the trace's first line after Tune's "Failure # N" header."""
    if not error_file or not Path(error_file).is_file():
        return "unknown (Tune saved no error trace)"
    lines = [line.strip() for line in Path(error_file).read_text(errors="replace").splitlines() if line.strip()]
    named = [line for line in lines if EXCEPTION_LINE.match(line)]
    prose = [line for line in lines if not line.startswith("Failure #")]
    return (named or prose or ["unknown (empty error trace)"])[-1 if named else 0]


class TrialProgress(tune.Callback):
    """One line per trial report: the arch, its latency and what compiling it cost, the epoch.

    Tune's status table says which trials run; these lines say why a trial was cut
    (over budget, stopped early) and whether its latency needed tuning or hit the caches.
    """

    def on_trial_result(self, iteration, trials, trial, result, **info):
        head = f"[canao] trial {trial.trial_id} {result.get('arch_key')}:"
        if not result.get(FEASIBLE, True):
            over = [
                f"by {value:.3f} ms" + (f" on {key[len(CONSTRAINT_KEY) + 1 :]}" if key != CONSTRAINT_KEY else "")
                for key, value in result.items()
                if key.startswith(CONSTRAINT_KEY) and value > 0
            ]
            print(f"{head} {self._latency(result)}; over the budget {', '.join(over)}, not trained", flush=True)
            return
        score = f"epoch {result.get('epoch')} score {result.get('score', 0):.4f}"
        if result.get("training_iteration") == 1:
            print(f"{head} {self._latency(result)}; {score}", flush=True)
        else:
            print(f"{head} {score}", flush=True)

    @staticmethod
    def _latency(result: dict) -> str:
        if result.get("latency_cached"):
            how = "cached"
        else:
            how = f"compile {result.get('compile_s', 0):.1f} s, tune {result.get('tune_s', 0):.1f} s"
        return f"latency {result.get('latency_ms', float('nan')):.3f} ms ({result.get('latency_backend')}, {how})"


class HypervolumeHistory(tune.Callback):
    """Appends ``{"finished", "trial_id", "point", "hypervolume", "time"}`` to a JSON-lines
    file each time a trial ends, so the search's progress can be read (and plotted) while
    it runs. Usable in any Tune run that reports the ``metrics`` it is given.

    A trial's ``point`` joins the front when it reported every metric and did not stop
    early (its last report has no ``final: False``: a partly trained score is not its
    score); otherwise ``point`` is null and the hypervolume is unchanged. A resumed run
    picks up the file where the interrupted one left it.
    """

    def __init__(
        self, path: str | os.PathLike, metrics: Sequence[str], modes: Sequence[str], reference: Sequence[float]
    ):
        self.path = Path(path)
        self.metrics, self.modes, self.reference = list(metrics), list(modes), list(reference)
        self.records: list[dict] = []

    def setup(self, **info):
        trim_partial_line(self.path)
        self.records = read_records(self.path)

    def on_trial_complete(self, iteration, trials, trial, **info):
        result = trial.last_result or {}
        counts = result.get(FINAL_KEY) is not False and all(result.get(m) is not None for m in self.metrics)
        self._append(trial, [float(result[m]) for m in self.metrics] if counts else None)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._append(trial, None)

    def _append(self, trial, point: list[float] | None) -> None:
        if any(record["trial_id"] == trial.trial_id for record in self.records):
            return
        points = [r["point"] for r in self.records if r["point"] is not None]
        points += [point] if point is not None else []
        record = {
            "finished": len(self.records) + 1,
            "trial_id": trial.trial_id,
            "point": point,
            "hypervolume": hypervolume(points, self.modes, self.reference),
            "time": time.time(),
        }
        append_record(self.path, record)
        self.records.append(record)
