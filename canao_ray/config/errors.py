"""Configuration errors as one line a user can act on, from pydantic's validation errors."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo


class ConfigError(ValueError):
    """A configuration problem; its message is one line meant for the user."""


def _join(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def unwrap_annotation(annotation: Any) -> Any:
    """The model class or container behind ``X | None`` and ``Annotated[...]`` (the model of
    a union of a model and plain values, such as ``str | HubSource``)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(options) > 1 and len(models) != 1:
                return annotation
            (annotation,) = models or options
        else:
            return annotation


def union_tags(annotation: Any) -> dict[str, type[BaseModel]]:
    """The models of a tagged union (``Annotated[Model, Tag("x")] | ...``), by tag."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    tags = {}
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for option in typing.get_args(annotation):
            if typing.get_origin(option) is typing.Annotated:
                inner, *extras = typing.get_args(option)
                tags.update({extra.tag: inner for extra in extras if isinstance(extra, Tag)})
    return tags


def item_annotation(annotation: Any) -> Any:
    """The item type of a ``tuple[X, ...]`` field (``None`` allowed), else None."""
    for option in typing.get_args(annotation) or (annotation,):
        if typing.get_origin(option) is tuple:
            return typing.get_args(option)[0]
    return None


def _untagged(model: type[BaseModel], loc: tuple) -> tuple[tuple, dict[tuple, type[BaseModel]]]:
    """``loc`` without the tags pydantic puts after a tagged union's field, and the model
    each tagged field resolved to (by the field's location)."""
    kept, chosen, holder = [], {}, model
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        kept.append(part)
        if not (isinstance(holder, type) and issubclass(holder, BaseModel) and part in holder.model_fields):
            holder = None
            continue
        annotation = holder.model_fields[part].annotation
        tags = union_tags(annotation)
        item_tags = union_tags(item_annotation(annotation))
        if not tags and item_tags and len(parts) > 1 and isinstance(parts[0], int) and parts[1] in item_tags:
            kept.append(parts.pop(0))  # a list of tagged unions: the item's index, then its tag
            tags = item_tags
        if tags and parts and parts[0] in tags:
            holder = chosen[tuple(kept)] = tags[parts.pop(0)]
        else:
            inner = unwrap_annotation(annotation)
            holder = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return tuple(kept), chosen


def _walk(
    model: type[BaseModel], loc: tuple, chosen: dict[tuple, type[BaseModel]] | None = None
) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model holding the last named field of ``loc``, and that field's info; ``chosen``:
    the model a tagged union's field resolved to, by location (``_untagged``)."""
    chosen = chosen or {}
    holder, info = model, None
    for index, part in enumerate(loc):
        if isinstance(holder, type) and issubclass(holder, BaseModel) and part in holder.model_fields:
            info = holder.model_fields[part]
            inner = chosen.get(loc[: index + 1], unwrap_annotation(info.annotation))
            holder = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
        elif holder is None and info is not None:
            # an item of a list or a mapping: the field's own info still applies, or the
            # model the item's tagged union resolved to
            chosen_model = chosen.get(loc[: index + 1])
            holder = chosen_model if chosen_model is not None else holder
        else:
            return None, None
    return holder, info


def _range(info: FieldInfo | None, violated: dict[str, Any]) -> str:
    """The allowed range in words ('positive', 'at least 2', 'within [0, 1)'): the field's
    bounds, and the ``violated`` one of an item's constraint."""
    names = ("gt", "ge", "lt", "le")
    b = {
        name: getattr(m, name)
        for m in (info.metadata if info else [])
        for name in names
        if getattr(m, name, None) is not None
    }
    b.update({name: value for name, value in violated.items() if name in names})
    b = {name: f"{value:g}" if isinstance(value, float) else value for name, value in b.items()}
    low = "gt" in b and f"({b['gt']}" or "ge" in b and f"[{b['ge']}"
    high = "lt" in b and f"{b['lt']})" or "le" in b and f"{b['le']}]"
    if low and high:
        return f"within {low}, {high}"
    if b.get("gt") in (0, "0"):
        unit = (info.json_schema_extra or {}).get("unit") if isinstance(info.json_schema_extra, dict) else None
        return f"a positive number of {unit}" if unit else "positive"
    if "gt" in b:
        return f"more than {b['gt']}"
    if "ge" in b:
        return f"{b['ge']} or more" if b["ge"] in (0, "0") else f"at least {b['ge']}"
    return f"at most {b.get('le', b.get('lt'))}"


_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "list": "a list",
    "tuple": "a list",
}


def _message(model: type[BaseModel], error: dict) -> str:
    kind, value = error["type"], error.get("input")
    loc, chosen = _untagged(model, tuple(error["loc"]))
    where = _join(loc) or "config"
    holder, info = _walk(model, loc, chosen)
    if kind == "objective_entry":
        return f"{where}: {error['msg']}"
    if kind == "union_tag_invalid":
        return f"{where}: unknown kind {error['ctx']['tag']!r}; choose one of {error['ctx']['expected_tags']}"
    if kind == "missing":
        return f"{where} is required here"
    if kind == "extra_forbidden":
        parent, _ = _walk(model, loc[:-1], chosen) if loc[:-1] else (model, None)
        known = ", ".join(parent.model_fields) if parent else ""
        return f"unknown key {where!r}; known keys here: {known}"
    if kind in ("model_type", "model_attributes_type"):
        return f"{where} must be a mapping of keys to values, got {type(value).__name__}"
    if kind == "literal_error":
        noun = info.title if info and info.title else str(loc[-1])
        return f"{where}: unknown {noun} {value!r}; choose one of {error['ctx']['expected']}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{where} must be {_range(info, error.get('ctx', {}))}, got {value!r}"
    base = kind.split("_")[0]
    if base in _KINDS and kind.endswith(("_type", "_parsing", "_from_float")):
        return f"{where} must be {_KINDS[base]}, got {value!r}"
    if kind == "value_error":
        return _validator_message(loc, holder, str(error["ctx"]["error"]))
    return f"{where}: {error['msg']}"


def _validator_message(loc: tuple, holder: type[BaseModel] | None, text: str) -> str:
    """A validator's own sentence, placed: one that starts with the name of the field it
    checks (or of a field of the section it checks) gets that field's full path."""
    first = text.split(" ", 1)[0].rstrip(":,")
    if loc and first == loc[-1]:
        return _join((*loc[:-1], text))
    if holder is not None and first in holder.model_fields:
        return _join((*loc, text))
    return f"{_join(loc)}: {text}" if loc else text


def config_error(model: type[BaseModel], error: ValidationError) -> ConfigError:
    """The first of ``error``'s problems as a ``ConfigError`` naming the field and what to do."""
    return ConfigError(_message(model, error.errors(include_url=False)[0]))
