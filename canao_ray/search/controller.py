"""CANAO's search method as an Optuna sampler: a recurrent controller trained by REINFORCE.

The controller is an LSTM that emits one decision per parameter, in the order the search
space suggests them, each conditioned on the decisions before it (Zoph & Le 2017; MnasNet
and CANAO use the same scheme with a latency-aware reward). As an Optuna sampler it plugs
into ``OptunaSearch`` like NSGA-II or TPE, and it learns only from what the study
storage holds: before each trial it replays every finished trial it has not learned
from yet, so a resumed study or several drivers sharing a storage need no extra state.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
import torch
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from ..keys import DUPLICATE_OF

#: Turns a finished trial into the controller's scalar reward (higher is better).
Reward = Callable[[FrozenTrial], float]


@dataclass(frozen=True)
class budget_reward:  # noqa: N801 - used like a function: ``budget_reward(31.0)``
    """MnasNet's reward with a hard target: ``score * min(1, budget / latency) ** exponent``.

    Within the budget the reward is the score alone, so the controller is not pushed to
    trade accuracy for latency it does not need; over it the reward decays with the
    excess (and a trial not trained because it was over budget scores 0 anyway). A
    value, not a closure, so Tune can checkpoint the searcher that holds it.
    """

    budget_ms: float
    exponent: float = 0.07
    score_index: int = 0
    latency_index: int = 1

    def __call__(self, trial: FrozenTrial) -> float:
        score, latency = trial.values[self.score_index], trial.values[self.latency_index]
        return score * min(1.0, self.budget_ms / max(latency, 1e-9)) ** self.exponent


def _choices(distribution: BaseDistribution) -> Sequence[Any] | None:
    """The values the controller picks among, or None for a distribution it leaves to random."""
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices
    if isinstance(distribution, IntDistribution) and not distribution.log:
        values = range(distribution.low, distribution.high + 1, distribution.step)
        return values if len(values) <= 256 else None
    return None


@contextlib.contextmanager
def _seeded(seed: int):
    """Torch's global generator seeded with ``seed`` inside, restored on exit."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


class _Policy(torch.nn.Module):
    """LSTM cell shared by all decisions; per parameter an output head and a choice embedding.

    Heads are created when a parameter is first seen, so their initial weights come from
    ``seed`` (plus the slot's index), not from torch's global generator: the same seed
    gives the same policy whatever else the process drew before.
    """

    def __init__(self, hidden_size: int, seed: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.seed = seed
        with _seeded(seed):
            self.cell = torch.nn.LSTMCell(hidden_size, hidden_size)
        self.start = torch.nn.Parameter(torch.zeros(1, hidden_size))
        self.heads = torch.nn.ModuleList()
        self.embeddings = torch.nn.ModuleList()
        self.slots: dict[tuple[str, int], int] = {}

    def slot(self, name: str, num_choices: int) -> tuple[int, bool]:
        """The index of ``name``'s head and embedding; True when they were just created."""
        key = (name, num_choices)
        if key in self.slots:
            return self.slots[key], False
        self.slots[key] = len(self.heads)
        with _seeded(self.seed + 1 + len(self.heads)):
            self.heads.append(torch.nn.Linear(self.hidden_size, num_choices))
            self.embeddings.append(torch.nn.Embedding(num_choices, self.hidden_size))
        return self.slots[key], True

    def logits(self, decisions: Sequence[tuple[int, int]], next_slot: int | None = None) -> list[torch.Tensor]:
        """Logits of every decision in ``decisions`` (slot, chosen index), then of ``next_slot``."""
        state = None
        inputs = self.start
        out = []
        for slot, index in [*decisions, (next_slot, None)]:
            if slot is None:
                break
            state = self.cell(inputs, state)
            out.append(self.heads[slot](state[0])[0])
            if index is not None:
                inputs = self.embeddings[slot](torch.tensor([index]))
        return out


class ControllerSampler(BaseSampler):
    """Samples categorical (and small integer) parameters from a recurrent policy trained
    by policy gradient on ``reward``; other distributions are sampled at random.

    ``reward`` maps a COMPLETE trial to a scalar; the default is the single objective
    (negated when minimised); a multi-objective study needs one, e.g. ``budget_reward``.
    The update is REINFORCE with an exponential-moving-average baseline and an entropy
    bonus that keeps the policy from collapsing before it has seen enough trials.

    A trial the searcher answered from an earlier one, or dropped as a repeat of a running
    one (``ConstrainedOptunaSearch`` marks both ``duplicate_of``), is learned from with the
    lowest reward seen so far, whatever it was told: it evaluated nothing new, and a policy rewarded for it again
    settles on the architectures it already knows until the searcher ends the search for
    lack of new proposals. In a plain study, where a repeat is a real evaluation, a
    repeat is learned from like any trial.
    """

    def __init__(
        self,
        reward: Reward | None = None,
        *,
        hidden_size: int = 64,
        learning_rate: float = 0.01,
        baseline_decay: float = 0.9,
        entropy_weight: float = 0.01,
        seed: int | None = None,
    ):
        self._reward = reward
        self._baseline_decay = baseline_decay
        self._entropy_weight = entropy_weight
        self._generator = torch.Generator()
        seed = seed if seed is not None else torch.seed() % 2**31
        self._generator.manual_seed(seed)
        self._policy = _Policy(hidden_size, seed)
        self._optimizer = torch.optim.Adam(self._policy.parameters(), lr=learning_rate)
        self._random = RandomSampler(seed=seed)
        self._learned: set[int] = set()
        self._lowest: float | None = None
        self._baseline: float | None = None

    def reseed_rng(self) -> None:
        self._generator.manual_seed(torch.seed())
        self._random.reseed_rng()

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._learn(study)

    def sample_independent(
        self, study: Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        choices = _choices(param_distribution)
        if choices is None:
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        slot, _ = self._slot(param_name, len(choices))
        with torch.no_grad():
            logits = self._policy.logits(self._decisions(trial), slot)[-1]
        index = torch.multinomial(torch.softmax(logits, -1), 1, generator=self._generator).item()
        return choices[index]

    def _slot(self, name: str, num_choices: int) -> tuple[int, bool]:
        slot, created = self._policy.slot(name, num_choices)
        if created:
            head, embedding = self._policy.heads[slot], self._policy.embeddings[slot]
            self._optimizer.add_param_group({"params": [*head.parameters(), *embedding.parameters()]})
        return slot, created

    def _decisions(self, trial: FrozenTrial) -> list[tuple[int, int]]:
        """(slot, chosen index) of the controller's parameters of ``trial``, in suggestion order."""
        decisions = []
        for name, distribution in trial.distributions.items():
            choices = _choices(distribution)
            if choices is not None:
                slot, _ = self._slot(name, len(choices))
                decisions.append((slot, list(choices).index(trial.params[name])))
        return decisions

    def _reward_of(self, study: Study, trial: FrozenTrial) -> float:
        if self._reward is not None:
            return float(self._reward(trial))
        if len(study.directions) > 1:
            raise ValueError(
                "ControllerSampler needs a reward function for a multi-objective study, e.g. budget_reward(...)"
            )
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        return sign * trial.value

    def _learn(self, study: Study) -> None:
        """One REINFORCE step per finished trial not learned from yet, oldest first: a
        COMPLETE one with its reward, a repeat with the lowest reward so far. A PRUNED one
        (stopped early: no values) or a failed one teaches nothing."""
        finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        for trial in study.get_trials(deepcopy=False, states=finished):
            if trial.number in self._learned:
                continue
            self._learned.add(trial.number)
            if DUPLICATE_OF in trial.user_attrs:
                reward = self._lowest
            elif trial.state == TrialState.COMPLETE:
                reward = self._reward_of(study, trial)
                if math.isfinite(reward):
                    self._lowest = reward if self._lowest is None else min(self._lowest, reward)
            else:
                continue
            decisions = self._decisions(trial)
            if decisions and reward is not None and math.isfinite(reward):
                self._step(decisions, reward)

    def _step(self, decisions: list[tuple[int, int]], reward: float) -> None:
        """REINFORCE on one sampled sequence of decisions, against the moving-average baseline."""
        if self._baseline is None:
            self._baseline = reward
        advantage = reward - self._baseline
        self._baseline = self._baseline_decay * self._baseline + (1 - self._baseline_decay) * reward
        logits = self._policy.logits(decisions)
        log_prob = sum(torch.log_softmax(lg, -1)[index] for lg, (_, index) in zip(logits, decisions))
        entropy = sum(-(torch.softmax(lg, -1) * torch.log_softmax(lg, -1)).sum() for lg in logits)
        loss = -advantage * log_prob - self._entropy_weight * entropy
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()
