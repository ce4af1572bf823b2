"""What a search leaves behind: the trial log and hypervolume as it runs, then the front, report, plots; and their check."""

from .callbacks import HYPERVOLUME_FILE, HypervolumeHistory, TrialProgress, TrialsLog, error_reason
from .front import pareto_front, trial_counts
from .hypervolume import hypervolume
from .report import REPLICAS_FILE, flat_front_warning, predictor_summary, replicas_summary, write_report
from .verify import Verdict, verify_run

__all__ = [
    "HYPERVOLUME_FILE",
    "REPLICAS_FILE",
    "HypervolumeHistory",
    "TrialProgress",
    "TrialsLog",
    "Verdict",
    "error_reason",
    "flat_front_warning",
    "hypervolume",
    "pareto_front",
    "predictor_summary",
    "replicas_summary",
    "trial_counts",
    "write_report",
    "verify_run",
]
