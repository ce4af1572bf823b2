"""What a task is, as far as training and scoring need to know: its columns, labels and metrics."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    """A text classification or regression task, resolved against its data: its text columns,
    its classes in index order, and its metrics (the first is its score, the one a search
    maximises)."""

    name: str
    text_columns: tuple[str, ...]
    num_labels: int  # 1: regression
    metrics: tuple[str, ...]
    label_names: tuple[str, ...] = ()  # the class names, in the order of their indices

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1

    @property
    def score_name(self) -> str:
        return self.metrics[0]

    def id2label(self) -> dict[int, str]:
        """Class index to name, as a Hugging Face config holds it (empty for regression)."""
        return dict(enumerate(self.label_names))
