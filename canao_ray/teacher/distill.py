"""Knowledge distillation: the loss a candidate trains with when a teacher is configured.

Logits: the KL divergence to the teacher's softened distribution, scaled by T^2 so its
gradient keeps its size as the temperature changes (Hinton et al., 2015); for
regression, the squared difference to the teacher's score. Intermediate layers: the
mean squared difference between each student layer's output and the output of the
teacher layer it was inherited from, on the hidden dimensions it inherited -- with
weight inheritance those dimensions correspond one to one, so no projection is learnt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .inherit import Selection

if TYPE_CHECKING:
    from ..config import DistillSettings


def _masked_mse(student: torch.Tensor, teacher: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(student.dtype)
    return ((student - teacher) ** 2 * weights).sum() / (weights.sum() * student.shape[-1]).clamp(min=1)


class Distiller:
    """Computes a training batch's loss against a frozen teacher."""

    def __init__(self, teacher: torch.nn.Module, selection: Selection, settings: DistillSettings, regression: bool):
        self.teacher = teacher.eval().requires_grad_(False)
        self.selection = selection
        self.settings = settings
        self.regression = regression

    def loss(self, student: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        s = self.settings
        wants_hidden = s.hidden_weight > 0
        out = student(**batch, output_hidden_states=wants_hidden)
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        with torch.no_grad():
            target = self.teacher(**inputs, output_hidden_states=wants_hidden)
        if self.regression:
            logit_loss = F.mse_loss(out.logits, target.logits)
        else:
            log_p = F.log_softmax(out.logits / s.temperature, dim=-1)
            q = F.softmax(target.logits / s.temperature, dim=-1)
            logit_loss = F.kl_div(log_p, q, reduction="batchmean") * s.temperature**2
        loss = (1 - s.logit_weight) * out.loss + s.logit_weight * logit_loss
        if wants_hidden:
            loss = loss + s.hidden_weight * self._hidden_loss(
                out.hidden_states, target.hidden_states, batch["attention_mask"]
            )
        return loss

    def _hidden_loss(self, student_states, teacher_states, mask) -> torch.Tensor:
        """Embeddings to embeddings, and student layer i to the teacher layer it came from."""
        hidden = self.selection.hidden
        pairs = [(0, 0)] + [(i + 1, t + 1) for i, t in enumerate(self.selection.layers)]
        losses = [
            _masked_mse(student_states[i][..., : hidden.numel()], teacher_states[t].index_select(-1, hidden), mask)
            for i, t in pairs
        ]
        return torch.stack(losses).mean()
