"""Architecture spaces written in Ray Tune's vocabulary, in Python or YAML.

A Tune space here is a nested dict (and lists, e.g. one entry per layer) over the Arch
spelling of ``Arch.from_dict``, whose leaves are integers or Tune domains. YAML spells
the domains one to one: ``{choice: [4, 8]}`` is ``tune.choice([4, 8])``, ``{randint: [2,
7]}`` is ``tune.randint(2, 7)`` (upper bound excluded), ``{qrandint: [256, 1024, 256]}`` is
``tune.qrandint(256, 1024, 256)`` (upper bound included, as Optuna reads it). The space is
sampled define-by-run with the names Ray gives nested parameters (``layers/0/num_heads``),
in the order the space is written, so the Python and YAML spellings of a space give the
same study.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._spelling import LAYER_FIELDS
from .arch import ARCH_FIELDS, Arch
from .precision import PRECISIONS

if TYPE_CHECKING:
    import optuna

#: The domains a space may hold, by their YAML name.
DOMAINS = ("choice", "randint", "qrandint")

Path = tuple[str | int, ...]


def _is_domain_spelling(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in DOMAINS


def _where(path: Path) -> str:
    return "/".join(map(str, path)) or "the space"


def spell(value: Any, path: Path = ()) -> Any:
    """A Python Tune space (``tune.choice`` and friends) in its YAML spelling."""
    from ray.tune.search.sample import Categorical, Domain, Integer, Quantized, Uniform

    if isinstance(value, Mapping):
        return {str(k): spell(v, (*path, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [spell(v, (*path, i)) for i, v in enumerate(value)]
    if not isinstance(value, Domain):
        return value
    sampler = value.get_sampler()
    quantized = isinstance(sampler, Quantized)
    base = sampler.sampler if quantized else sampler
    if isinstance(value, Categorical) and isinstance(base, Uniform):
        return {"choice": list(value.categories)}
    if isinstance(value, Integer) and isinstance(base, Uniform):
        if quantized:
            return {"qrandint": [value.lower, value.upper, sampler.q]}
        return {"randint": [value.lower, value.upper]}
    raise ValueError(
        f"{_where(path)}: {type(value).__name__} with {type(base).__name__.strip('_')} sampling is not an architecture choice; "
        f"use {', '.join('tune.' + d for d in DOMAINS)}"
    )


def _domain_values(domain: Mapping[str, Any], path: Path) -> list[Any]:
    """Every value a spelled domain can take, checked to be positive integers (precisions
    for ``precision``)."""
    (name, args), where = next(iter(domain.items())), _where(path)
    if path == ("precision",):
        if name != "choice" or not isinstance(args, (list, tuple)) or not args or not set(args) <= set(PRECISIONS):
            raise ValueError(f"precision: give one of {list(PRECISIONS)} or a choice of them, got {domain!r}")
        return list(args)
    if name == "choice":
        values = list(args) if isinstance(args, (list, tuple)) else None
        if not values:
            raise ValueError(f"{where}: choice needs a non-empty list, got {args!r}")
    else:
        arity = 2 if name == "randint" else 3
        if not (isinstance(args, (list, tuple)) and len(args) == arity and all(_is_int(a) for a in args)):
            raise ValueError(f"{where}: {name} takes [{'lower, upper' + (', q' if arity == 3 else '')}], got {args!r}")
        lower, upper = args[0], args[1] - (1 if name == "randint" else 0)
        step = args[2] if arity == 3 else 1
        values = list(range(lower, upper + 1, step)) if step > 0 else []
        if not values:
            raise ValueError(f"{where}: {name}{list(args)} holds no integer")
    if not all(_is_int(v) and v > 0 for v in values):
        raise ValueError(f"{where}: architecture choices are positive integers, got {values}")
    return values


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf of the spelled space (constants and domains), in the order written."""
    if _is_domain_spelling(value):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, (*path, k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i))
    else:
        yield path, value


def _filled(value: Any, leaf) -> Any:
    """The spelled space with each leaf replaced by ``leaf(path, value)``."""

    def fill(value: Any, path: Path) -> Any:
        if _is_domain_spelling(value):
            return leaf(path, value)
        if isinstance(value, Mapping):
            return {k: fill(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [fill(v, (*path, i)) for i, v in enumerate(value)]
        return leaf(path, value)

    return fill(value, ())


class TuneSpace(BaseModel):
    """An architecture space as a Ray Tune ``param_space``, kept in its YAML spelling.

    ``TuneSpace.from_param_space(space)`` takes the Python one; ``param_space()`` gives it
    back with Tune domains. Calling the space with an Optuna trial samples it define-by-run
    and returns the resolved space (the config a Tune trial sees).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tune: dict[str, Any] = Field(description="the Tune space: Arch keys whose values are integers or domains")

    @field_validator("tune")
    @classmethod
    def _a_space_of_archs(cls, space: dict[str, Any]) -> dict[str, Any]:
        if not space:
            raise ValueError("the Tune space is empty: give num_layers, hidden_size, head_dim and the layer choices")
        for path, value in _walk(space):
            names = [p for p in path if isinstance(p, str)]
            top, inner = names[0], names[1:]
            allowed = top in ARCH_FIELDS and (not inner or (top == "layers" and inner[0] in LAYER_FIELDS))
            if len(names) >= 2 and names[-2] in ARCH_FIELDS + LAYER_FIELDS and names[-2] != "layers":
                raise ValueError(
                    f"{_where(path[: path.index(names[-1])])}: {names[-1]!r} is not a domain canao samples; "
                    f"use one of {list(DOMAINS)}"
                )
            if not allowed or len(inner) > 1:
                raise ValueError(
                    f"{_where(path)} is not an architecture choice; a space takes {list(ARCH_FIELDS)}, "
                    f"and each layers entry {list(LAYER_FIELDS)}"
                )
            if _is_domain_spelling(value):
                _domain_values(value, path)
            elif path == ("precision",):
                if value not in PRECISIONS:
                    raise ValueError(f"precision: give one of {list(PRECISIONS)} or a choice of them, got {value!r}")
            elif not (_is_int(value) and value > 0):
                raise ValueError(f"{_where(path)}: give a positive integer or one of {list(DOMAINS)}, got {value!r}")
        highest = _filled(space, lambda p, v: max(_leaf_values(p, v)))
        for point in itertools.chain([highest], _layer_grids(space)):
            try:
                Arch.from_dict(point)
            except ValueError as error:
                raise ValueError(f"the space holds impossible architectures ({error})") from None
        return space

    @classmethod
    def from_param_space(cls, param_space: Mapping[str, Any]) -> TuneSpace:
        """The space of a Python Tune ``param_space`` (``tune.choice``, ``tune.randint``, ``tune.qrandint``)."""
        return cls(tune=spell(param_space))

    def param_space(self) -> dict[str, Any]:
        """The space with Tune domains, as a ``Tuner(param_space=...)`` takes it."""
        from ray import tune

        def domain(path: Path, value: Any) -> Any:
            if not _is_domain_spelling(value):
                return value
            ((name, args),) = value.items()
            return getattr(tune, name)(list(args)) if name == "choice" else getattr(tune, name)(*args)

        return _filled(self.tune, domain)

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        def suggest(path: Path, value: Any) -> Any:
            if not _is_domain_spelling(value):
                return value
            ((name, args),), key = value.items(), _where(path)
            if name == "choice":
                return trial.suggest_categorical(key, list(args))
            if name == "randint":
                return trial.suggest_int(key, args[0], args[1] - 1)
            return trial.suggest_int(key, args[0], args[1], step=args[2])

        return _filled(self.tune, suggest)

    def arch(self, params: Mapping[str, Any]) -> Arch:
        """The Arch of one point (an Optuna trial's ``params``, named as ``__call__`` names them)."""
        return Arch.from_dict(_filled(self.tune, lambda p, v: params[_where(p)] if _is_domain_spelling(v) else v))

    def shape_representatives(self) -> list[Arch]:
        """One single-layer Arch per distinct layer shape any point of the space can hold."""
        shapes = set()
        for point in _layer_grids(self.tune):
            arch = Arch.from_dict(point)
            shapes |= {Arch(arch.hidden_size, arch.head_dim, (layer,), arch.precision) for layer in arch.layers}
        return sorted(shapes)

    def smallest(self) -> Arch:
        """Every choice at its least (int8 where it may be): the fastest point of the space
        on any device."""
        return Arch.from_dict(_filled(self.tune, lambda p, v: min(_leaf_values(p, v), key=_speed_order)))


def _layer_grids(space: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Points covering every (shared sizes, layer shape) pair: the shared leaves and one
    layer's leaves take all their values together, the other layers' their least."""
    leaves = list(_walk(space))
    shared = [(p, v) for p, v in leaves if p[0] != "layers"]
    per_layer = {p[1] for p, _ in leaves if p[0] == "layers"} or {None}
    for layer in sorted(per_layer, key=str):
        varied = shared + [(p, v) for p, v in leaves if p[0] == "layers" and p[1] == layer]
        for values in itertools.product(*(_leaf_values(p, v) for p, v in varied)):
            chosen = {path: value for (path, _), value in zip(varied, values)}
            yield _filled(space, lambda p, v, chosen=chosen: chosen.get(p, min(_leaf_values(p, v))))


def _leaf_values(path: Path, value: Any) -> list[Any]:
    return _domain_values(value, path) if _is_domain_spelling(value) else [value]


def _speed_order(value: Any) -> tuple[int, Any]:
    """Sorts a leaf's values fastest first: smaller sizes, and int8 before fp32."""
    return (0, 0) if value == "int8" else (1, 0) if value == "fp32" else (1, value)
