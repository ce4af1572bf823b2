"""The kinds of architecture space a config or a caller may give, told apart by their spelling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, Discriminator, Tag

from .bert import BertSpace
from .layerwise import LayerwiseSpace
from .tune_space import TuneSpace, spell


def _has_tune_domain(value: Any) -> bool:
    from ray.tune.search.sample import Domain

    if isinstance(value, Domain):
        return True
    if isinstance(value, Mapping):
        return any(_has_tune_domain(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_tune_domain(v) for v in value)
    return False


def space_input(value: Any) -> Any:
    """``value`` as one of the spaces' inputs: a Python ``param_space`` (Tune domains) or a
    bare Tune spelling (integers, ``{choice: [...]}`` entries, ``layers``) becomes
    ``{tune: ...}``; the list form of ``BertSpace`` and ``kind: per_layer`` stay as they are."""
    if not isinstance(value, Mapping) or "tune" in value or "kind" in value:
        return value
    if _has_tune_domain(value):
        return {"tune": spell(value)}
    if "layers" in value or any(not isinstance(v, (list, tuple)) for v in value.values()):
        return {"tune": dict(value)}
    return value


def _kind(value: Any) -> str:
    if isinstance(value, BaseModel):
        return {BertSpace: "uniform", LayerwiseSpace: "per_layer", TuneSpace: "tune"}.get(type(value), "uniform")
    if isinstance(value, Mapping) and "tune" in value:
        return "tune"
    return value.get("kind", "uniform") if isinstance(value, Mapping) else "uniform"


#: Any architecture space: the uniform grid, the per-layer define-by-run space, a Tune space.
ArchSpace = Annotated[
    Annotated[BertSpace, Tag("uniform")]
    | Annotated[LayerwiseSpace, Tag("per_layer")]
    | Annotated[TuneSpace, Tag("tune")],
    Discriminator(_kind),
]
