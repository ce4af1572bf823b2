"""``canao verify RUN_DIR``: is a run directory whole, and do its records agree?

A search writes the same facts in several places: the trial log (``trials.jsonl``),
the Optuna study (``optuna.db``), the front (``pareto.json``), the hypervolume history,
and, shared with other runs, the latency cache and the TVM tuning database. Each is
written so that a kill leaves it readable; this check reads them all strictly and
cross-checks them, so a user can trust a directory that survived crashes and resumes.

A *problem* is something wrong (a record that does not parse, a study value that the
log contradicts). A *note* is something expected after a kill (a search not finished
yet, a last line cut mid-write that the next writer trims).
"""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from device_profilers import Latency

from ..config import ConfigError, SearchConfig
from ..keys import RAY_TRIAL_ID
from .callbacks import HYPERVOLUME_FILE
from .front import pareto_front

#: The study state each final status in the trial log must have.
STUDY_STATE = {
    "TERMINATED": TrialState.COMPLETE,
    "INFEASIBLE": TrialState.COMPLETE,
    "STOPPED": TrialState.PRUNED,
    "ERROR": TrialState.FAIL,
}


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_run(run_dir: str | Path) -> Verdict:
    """Every check of ``canao verify``; never raises on a damaged directory."""
    run_dir = Path(run_dir)
    verdict = Verdict()
    if not (run_dir / "config.yaml").is_file():
        verdict.problems.append(f"{run_dir}: no config.yaml; this is not a canao run directory")
        return verdict
    try:
        config = SearchConfig.from_yaml(run_dir / "config.yaml")
    except ConfigError as error:
        verdict.problems.append(f"config.yaml: {error}")
        return verdict
    finished = (run_dir / "report.md").is_file()
    if not finished:
        verdict.notes.append("the search has not finished (no report.md): canao search --resume finishes it")
    records = _json_lines(run_dir / "trials.jsonl", verdict)
    _check_trial_log(records, verdict)
    study = _check_study(run_dir, config, records, finished, verdict)
    if study is not None and finished:
        _check_front(run_dir, config, study, verdict)
    _check_history(run_dir / HYPERVOLUME_FILE, verdict)
    _check_cache(config, verdict)
    return verdict


def _json_lines(path: Path, verdict: Verdict, kind: type = dict) -> list:
    """The records (JSON values of type ``kind``) of a JSON-lines file, read strictly:
    a whole line that is not one is a problem."""
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")
    if lines[-1]:
        verdict.notes.append(f"{path.name}: its last line was cut by a kill mid-write (the next writer trims it)")
    records, bad = [], []
    for number, line in enumerate(lines[:-1], start=1):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if isinstance(record, kind):
            records.append(record)
        else:
            bad.append(number)
    if bad:
        verdict.problems.append(f"{path}: {len(bad)} line(s) are not JSON records, the first line {bad[0]}")
    return records


def _check_trial_log(records: list[dict], verdict: Verdict) -> None:
    seen: set[str] = set()
    for record in records:
        trial_id, status = record.get("trial_id"), record.get("status")
        if trial_id in seen:
            verdict.problems.append(f"trials.jsonl: trial {trial_id} is logged twice")
        seen.add(trial_id)
        if status not in STUDY_STATE:
            verdict.problems.append(f"trials.jsonl: trial {trial_id} has unknown status {status!r}")
    statuses = sorted({r.get("status") for r in records}, key=str)
    counts = ", ".join(f"{sum(r.get('status') == s for r in records)} {s}" for s in statuses)
    verdict.summary.append(f"trials.jsonl: {len(records)} trials ({counts or 'none'})")


def _integrity(path: Path) -> str:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def _check_study(run_dir: Path, config: SearchConfig, records: list[dict], finished: bool, verdict: Verdict):
    path = run_dir / "optuna.db"
    if not path.is_file():
        if records:
            verdict.problems.append("optuna.db is missing but trials.jsonl logs trials")
        return None
    try:
        if (result := _integrity(path)) != "ok":
            verdict.problems.append(f"optuna.db: sqlite integrity check failed: {result}")
            return None
        study = optuna.load_study(study_name=config.name, storage=f"sqlite:///{path}")
    except (sqlite3.DatabaseError, KeyError) as error:
        verdict.problems.append(f"optuna.db: cannot load study {config.name!r}: {error}")
        return None
    trials = study.get_trials(deepcopy=False)
    metrics = config.resolved_objectives().metrics
    by_ray_id = {t.user_attrs[RAY_TRIAL_ID]: t for t in trials if RAY_TRIAL_ID in t.user_attrs}
    for record in records:
        trial_id, status = record.get("trial_id"), record.get("status")
        study_trial = by_ray_id.get(trial_id)
        if study_trial is None:
            verdict.problems.append(f"trial {trial_id} ({status}) is logged but the study has no trial for it")
            continue
        wanted = STUDY_STATE.get(status)
        if wanted is not None and study_trial.state != wanted:
            verdict.problems.append(f"trial {trial_id}: logged {status} but the study holds {study_trial.state.name}")
        elif wanted == TrialState.COMPLETE:
            logged = _logged_values(record, metrics)
            if len(logged) != len(study_trial.values) or not all(
                isinstance(v, (int, float)) and math.isclose(v, s, rel_tol=1e-9, abs_tol=1e-12)
                for v, s in zip(logged, study_trial.values)
            ):
                verdict.problems.append(
                    f"trial {trial_id}: logged ({', '.join(metrics)}) {logged} but the study holds {tuple(study_trial.values)}"
                )
    logged_ids = {r.get("trial_id") for r in records}
    unlogged = [rid for rid, t in by_ray_id.items() if t.state.is_finished() and rid not in logged_ids]
    if unlogged:
        message = f"the study finished {len(unlogged)} trial(s) the log lacks: {', '.join(sorted(unlogged))}"
        (verdict.problems if finished else verdict.notes).append(message)
    running = [t.number for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    if running and finished:
        verdict.problems.append(f"optuna.db: the search finished but study trials {running} are still RUNNING")
    states = ", ".join(
        f"{sum(t.state == s for t in trials)} {s.name}" for s in TrialState if any(t.state == s for t in trials)
    )
    verdict.summary.append(f"optuna.db: study {config.name!r}, {len(trials)} trials ({states or 'none'})")
    return study


def _check_front(run_dir: Path, config: SearchConfig, study: optuna.Study, verdict: Verdict) -> None:
    path = run_dir / "pareto.json"
    try:
        written = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        verdict.problems.append(f"pareto.json: unreadable ({type(error).__name__})")
        return
    metrics = config.resolved_objectives().metrics
    written, expected = _points(written, metrics), _points(pareto_front(study, config.space, metrics), metrics)
    if written != expected:
        verdict.problems.append(f"pareto.json holds {written} but the study's front is {expected}")
    verdict.summary.append(f"pareto.json: {len(written)} points, as the study says")


def _points(front: list[dict], metrics: list[str]) -> list[tuple]:
    return sorted((row["arch_key"], *(row.get(m) for m in metrics)) for row in front)


def _logged_values(record: dict, metrics: list[str]) -> tuple:
    """A trial's objective values as ``trials.jsonl`` logged them (a log written before
    objectives were logged together holds the score and the latency apart)."""
    if "objectives" in record:
        return tuple(record["objectives"].get(m) for m in metrics)
    return (record.get("metrics", {}).get("score"), record.get("latency", {}).get("median_ms"))


def _check_history(path: Path, verdict: Verdict) -> None:
    history = _json_lines(path, verdict)
    ids = [h.get("trial_id") for h in history]
    if len(ids) != len(set(ids)):
        verdict.problems.append(f"{path.name}: a trial is counted twice")
    finished = [h.get("finished") for h in history]
    if finished != sorted(finished) or len(finished) != len(set(finished)):
        verdict.problems.append(f"{path.name}: finished-trial counts are not increasing: {finished}")
    if history:
        verdict.summary.append(f"{path.name}: {len(history)} points")


def _check_cache(config: SearchConfig, verdict: Verdict) -> None:
    cache_dir = config.resolved_cache_dir()
    latency = cache_dir / "latency.sqlite"
    if latency.is_file():
        try:
            if (result := _integrity(latency)) != "ok":
                verdict.problems.append(f"{latency}: sqlite integrity check failed: {result}")
            else:
                with closing(sqlite3.connect(f"file:{latency}?mode=ro", uri=True)) as db:
                    rows = db.execute("SELECT key, value FROM latency").fetchall()
                for key, value in rows:
                    try:
                        Latency.from_dict(json.loads(value))
                    except (json.JSONDecodeError, TypeError, ValueError):
                        verdict.problems.append(f"{latency}: entry {key!r} is not a latency")
                verdict.summary.append(f"latency cache: {len(rows)} entries")
        except sqlite3.DatabaseError as error:
            verdict.problems.append(f"{latency}: not a readable sqlite database ({error})")
    for device in dict.fromkeys(o.device for o in config.resolved_objectives().latencies):
        tuning = cache_dir / "tvm" / device
        for name in ("database_workload.json", "database_tuning_record.json"):
            if (tuning / name).is_file():
                count = len(_json_lines(tuning / name, verdict, kind=list))
                verdict.summary.append(f"tuning database of {device}, {name}: {count} records")
