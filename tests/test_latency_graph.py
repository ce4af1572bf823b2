"""The latency graph written without torch is the exporter's graph as TVM lowers it: the
same nodes, attributes, constants and weight shapes, in the same order (real torch
export, real ONNX Runtime folding)."""

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from device_profilers.backends.tvm.lowering import fold_constant_nodes, pack_parallel_matmuls, weights_as_inputs
from device_profilers.export import LATENCY_VOCAB_SIZE, build_classifier, export_onnx
from device_profilers.latency_graph import IR_VERSION, OPSET, latency_graph
from device_profilers.onnx_files import SHIPPED_BYTES_KEY, graph_inputs, model_file_bytes
from search_spaces import Arch

CASES = [
    (Arch.uniform(2, 64, 2, 128), 1, 16),
    (Arch.per_layer(96, 16, [4, 6], [128, 64]), 2, 32),
    (Arch.uniform(1, 128, 2, 256), 1, 128),
    (Arch.per_layer(128, 32, [1, 4, 2], [512, 128, 256]), 2, 64),
]


def _exported(arch: Arch, batch: int, seq_len: int, path) -> tuple[onnx.ModelProto, int]:
    """The exporter's graph of a model whose every parameter is random (none zero, none
    repeated, so the exporter shares or drops none), as ``lower`` rewrites it; and the
    bytes of the model's parameters."""
    model = build_classifier(arch, seq_len)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.1)
    export_onnx(model, path, batch, seq_len)
    graph = onnx.load(str(path))
    fold_constant_nodes(graph)
    pack_parallel_matmuls(graph)
    return weights_as_inputs(graph)[0], sum(p.numel() * p.element_size() for p in model.parameters())


def _canonical(model: onnx.ModelProto) -> list[tuple]:
    """Each node as (op, attributes, inputs), inputs named by what they are: an earlier
    node's output by position, a weight input by shape, a constant by shape and dtype (and
    value, for the integer shapes and float scalars that steer lowering)."""
    graph = model.graph
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    weights = {value.name: tuple(d.dim_value for d in value.type.tensor_type.shape.dim) for value in graph.input}
    produced: dict[str, tuple] = {}

    def describe(name: str) -> tuple:
        if name in produced:
            return produced[name]
        if name in constants:
            value = constants[name]
            shown = (
                value.tolist() if value.dtype != np.float32 else (round(float(value), 6) if value.ndim == 0 else None)
            )
            return ("constant", value.shape, str(value.dtype), shown)
        return ("input", weights[name])

    nodes = []
    for index, node in enumerate(graph.node):
        attributes = sorted((a.name, helper.get_attribute_value(a)) for a in node.attribute)
        nodes.append((node.op_type, attributes, [describe(name) for name in node.input]))
        produced.update({name: ("node", index, slot) for slot, name in enumerate(node.output)})
    return nodes


@pytest.mark.parametrize(("arch", "batch", "seq_len"), CASES, ids=[f"{a.key}-b{b}-s{s}" for a, b, s in CASES])
def test_the_written_graph_is_the_exporters_node_for_node(arch, batch, seq_len, tmp_path):
    exported, parameter_bytes = _exported(arch, batch, seq_len, tmp_path / "model.onnx")
    written = latency_graph(arch, batch, seq_len, LATENCY_VOCAB_SIZE)
    assert _canonical(written) == _canonical(exported)
    assert [(o.domain, o.version) for o in written.opset_import] == [
        (o.domain, o.version) for o in exported.opset_import
    ]
    assert written.ir_version == exported.ir_version == IR_VERSION and exported.opset_import[0].version == OPSET
    # What the written graph says a model file weighs: the parameters, and the graph.
    shipped = int({p.key: p.value for p in written.metadata_props}[SHIPPED_BYTES_KEY])
    assert parameter_bytes < shipped < 1.02 * parameter_bytes
    onnx.save(written, str(tmp_path / "written.onnx"))
    assert model_file_bytes(tmp_path / "written.onnx") == shipped
    assert graph_inputs(tmp_path / "written.onnx") == ["input_ids"]
