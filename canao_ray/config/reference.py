"""The config reference, generated from the schema: ``python -m canao_ray.config.reference > docs/config.md``."""

from __future__ import annotations

import inspect
import json
import types
import typing

from pydantic import BaseModel

from .errors import item_annotation, union_tags, unwrap_annotation
from .search_config import SearchConfig


def _type_name(annotation) -> str:
    """A field's type in a config writer's words: ``int or null``, ``tvm | ort | torch``, ``list of int``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    names = {bool: "bool", int: "int", float: "number", str: "string", typing.Any: "any value"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _mapped_model(annotation) -> type[BaseModel] | None:
    """The section of a ``dict[str, Section]`` field, else None."""
    if typing.get_origin(annotation) is dict:
        inner = typing.get_args(annotation)[1]
        return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return None


def _value(value) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return f"`{json.dumps(value, default=list)}`"


def _kind_of(value, kinds: dict[str, type]) -> str | None:
    return next((tag for tag, kind in kinds.items() if isinstance(value, kind)), None)


def _sections(model: type[BaseModel], path: str, instance: BaseModel) -> list[str]:
    """The table of one section (its values taken from ``instance``), then its subsections'."""
    summary = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    lines = [f"## `{path}`" if path else "## top level", "", summary, ""]
    lines += ["| key | type | default | what |", "|---|---|---|---|"]
    nested = []
    for name, info in model.model_fields.items():
        inner = unwrap_annotation(info.annotation)
        value = getattr(instance, name, None)
        kinds = union_tags(info.annotation)
        where = f"{path}.{name}" if path else name
        item_kinds = {
            tag: kind
            for tag, kind in union_tags(item_annotation(info.annotation)).items()
            if isinstance(kind, type) and issubclass(kind, BaseModel)
        }
        mapped = _mapped_model(info.annotation)
        if item_kinds:
            lines.append(
                f"| `{name}` | list of names and mappings, or null | {_value(value)} | {info.description}; "
                f"the mappings are below |"
            )
            nested += [(kind, f"{where}[] ({tag})", kind.model_construct()) for tag, kind in item_kinds.items()]
        elif mapped is not None:
            lines.append(f"| `{name}` | mapping of names to the section below | {_value(value)} | {info.description} |")
            nested.append((mapped, f"{where}.<name>", mapped.model_construct()))
        elif kinds:
            lines.append(
                f"| `{name}` | one of the {len(kinds)} kinds below | {_value(_kind_of(value, kinds))} | {info.description} |"
            )
            for tag, kind in kinds.items():
                nested.append((kind, f"{where} ({tag})", value if isinstance(value, kind) else kind.model_construct()))
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            plain = [a for a in typing.get_args(info.annotation) if a not in (inner, type(None))]
            kind = f"{' or '.join(map(_type_name, plain))} or section below" if plain else "section"
            lines.append(
                f"| `{name}` | {kind} | {'required' if info.is_required() else 'see below' if value is not None else '`null`'} "
                f"| {info.description} |"
            )
            nested.append(
                (inner, f"{path}.{name}" if path else name, value if value is not None else inner.model_construct())
            )
        else:
            default = "required" if info.is_required() else _value(value)
            lines.append(f"| `{name}` | {_type_name(info.annotation)} | {default} | {info.description} |")
    lines.append("")
    for inner, where, value in nested:
        lines += _sections(inner, where, value)
    return lines


def config_reference() -> str:
    """Markdown: every section and key of ``SearchConfig``, its type, default and meaning."""
    head = [
        "# Config reference",
        "",
        "Generated from `canao_ray.config` by `python -m canao_ray.config.reference`; `tests/test_config.py`",
        "checks that this file matches the schema. Every key is optional; a section left out takes its",
        "defaults, and `canao search` with no `--config` runs exactly the defaults (the embedded quickstart).",
        "",
    ]
    return "\n".join(head + _sections(SearchConfig, "", SearchConfig())).rstrip() + "\n"


if __name__ == "__main__":
    print(config_reference(), end="")
