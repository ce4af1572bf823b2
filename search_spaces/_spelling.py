"""Reading the dict spelling of an Arch (``Arch.from_dict``): per-layer entries and shared values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: Keys of one entry of ``layers`` in that spelling.
LAYER_FIELDS = ("num_heads", "intermediate_size", "ffn_ratio")


def layer_entries(values: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    layers = values.get("layers")
    if layers is None:
        return None
    if isinstance(layers, Mapping):  # Tune's flattened-then-unflattened lists: {"0": ..., "1": ...}
        layers = [layers[k] for k in sorted(layers, key=int)]
    if not isinstance(layers, Sequence) or isinstance(layers, str) or not all(isinstance(x, Mapping) for x in layers):
        raise ValueError("Arch layers must be a list of {num_heads, intermediate_size} entries")
    for index, layer in enumerate(layers):
        unknown = sorted(set(layer) - set(LAYER_FIELDS))
        if unknown:
            raise ValueError(f"unknown key(s) {unknown} in Arch layers[{index}]; a layer takes {list(LAYER_FIELDS)}")
    return list(layers)


def per_layer_value(values: Mapping[str, Any], layer: Mapping[str, Any], name: str, index: int, depth: int) -> Any:
    """Layer ``index``'s ``name``: its own entry, else the shared value (one, or a list per layer)."""
    if name in layer:
        return layer[name]
    shared = values.get(name)
    if isinstance(shared, Sequence) and not isinstance(shared, str):
        if len(shared) < depth:
            raise ValueError(f"{name} lists {len(shared)} values for {depth} layers")
        return shared[index]
    if shared is None:
        raise ValueError(f"Arch layer {index} has no {name}")
    return shared


def ffn_width(values: Mapping[str, Any], layer: Mapping[str, Any], index: int, depth: int, hidden: int) -> int:
    own = [name for name in ("intermediate_size", "ffn_ratio") if name in layer]
    shared = [name for name in ("intermediate_size", "ffn_ratio") if name in values]
    if len(own) > 1 or (not own and len(shared) > 1):
        raise ValueError(f"Arch layer {index}: give intermediate_size or ffn_ratio, not both")
    name = (own or shared or ["intermediate_size"])[0]
    value = per_layer_value(values, layer, name, index, depth)
    return value * hidden if name == "ffn_ratio" else value
