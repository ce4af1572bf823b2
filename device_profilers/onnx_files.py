"""What the profilers read from an ONNX file: its token inputs and its size as a model file.

Torch-free, so a profiler that only compiles written graphs (``latency_graph``) never
imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Metadata a written latency graph carries: its token inputs (its other inputs are weight
#: matrices), and the bytes of the model as a file (``model_file_bytes``).
TOKEN_INPUTS_KEY = "canao.token_inputs"
SHIPPED_BYTES_KEY = "canao.shipped_bytes"


def _metadata(model) -> dict[str, str]:
    return {prop.key: prop.value for prop in model.metadata_props}


def graph_inputs(onnx_path: str | os.PathLike) -> list[str]:
    """``token_inputs`` of the model in a file (its weights are not read)."""
    import onnx

    return token_inputs(onnx.load(str(onnx_path), load_external_data=False))


def token_inputs(model) -> list[str]:
    """Names of the graph's token inputs: those a written graph names, else every input
    that is not a weight listed as an input by old exporters.

    Every one is taken to be a [batch, sequence] int64 token tensor, as in a BERT-family
    model (input_ids, attention_mask, token_type_ids); timing feeds them zeros.
    """
    named = _metadata(model).get(TOKEN_INPUTS_KEY)
    if named is not None:
        return named.split(",")
    weights = {init.name for init in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in weights]


def model_file_bytes(onnx_path: str | os.PathLike) -> int:
    """Bytes of a model as shipped: the graph file and the external data files it names
    (for a written latency graph, whose weights are inputs, the size it records)."""
    import onnx

    path = Path(onnx_path)
    model = onnx.load(str(path), load_external_data=False)
    recorded = _metadata(model).get(SHIPPED_BYTES_KEY)
    if recorded is not None:
        return int(recorded)
    locations = {
        entry.value for init in model.graph.initializer for entry in init.external_data if entry.key == "location"
    }
    return path.stat().st_size + sum((path.parent / name).stat().st_size for name in locations)
