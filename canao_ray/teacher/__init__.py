"""The teacher: where its checkpoint comes from, its fine-tuning, the importance of its units, inheritance and distillation."""

from .distill import Distiller
from .finetune import prepare_teacher
from .importance import Importance, importance
from .inherit import Selection, inherit, select
from .sources import TeacherError, checkpoint_path, load_classifier, teacher_config
from .students import build_student, load_teacher

__all__ = [
    "Distiller",
    "Importance",
    "Selection",
    "TeacherError",
    "build_student",
    "checkpoint_path",
    "importance",
    "inherit",
    "load_classifier",
    "load_teacher",
    "prepare_teacher",
    "select",
    "teacher_config",
]
