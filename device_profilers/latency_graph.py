"""An Arch's classifier as an ONNX graph, written node by node without PyTorch.

What TVM times is the graph ``export_onnx`` writes for the randomly initialised model
(``input_ids`` in, logits out), after lowering's own rewrites: constant subgraphs folded,
each layer's Q, K and V matmuls packed into one, and the weight matrices made inputs.
Exporting that with torch costs 1-4 s a candidate (2.1 s for BERT-base-L11) and moving
its weights about another second; this writes the same graph in milliseconds, with the
weight matrices left as inputs of known shape (their values do not change a latency).
``tests/test_latency_graph.py`` holds it to the exporter's graph, node for node, for
uniform and per-layer shapes.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from search_spaces import Arch

from .onnx_files import SHIPPED_BYTES_KEY, TOKEN_INPUTS_KEY

#: Vocabulary size used when only latency matters: the embedding lookup's cost does not
#: depend on it, and a small table keeps export and compilation fast.
LATENCY_VOCAB_SIZE = 1024
#: The opset and IR version of the graphs torch's exporter writes (``torch.onnx`` default).
OPSET = 20
IR_VERSION = 10
LAYER_NORM_EPS = 1e-12  # BertConfig's default
NUM_LABELS = 2


class _Graph:
    """Nodes, constants and weight inputs as they are added."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self.weights: list[onnx.ValueInfoProto] = []
        #: Bytes a model file stores for the constants and weights: for a folded lookup,
        #: its embedding table.
        self.shipped_bytes = 0

    def node(self, op: str, inputs: list[str], output: str | None = None, **attributes) -> str:
        output = output or f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def split(self, source: str, sizes: list[int]) -> list[str]:
        outputs = [f"split_{len(self.nodes)}_{i}" for i in range(len(sizes))]
        sizes_name = self.constant(np.array(sizes, dtype=np.int64))
        self.nodes.append(helper.make_node("Split", [source, sizes_name], outputs, axis=-1))
        return outputs

    def constant(self, value: np.ndarray, shipped_bytes: int | None = None) -> str:
        name = f"const_{len(self.constants)}"
        self.constants.append(numpy_helper.from_array(value, name))
        self.shipped_bytes += value.nbytes if shipped_bytes is None else shipped_bytes
        return name

    def parameter(self, *shape: int) -> str:
        """A small float parameter (bias, norm) stored in the graph, random like the model's."""
        return self.constant((self.rng.standard_normal(shape) * 0.02).astype(np.float32))

    def weight(self, rows: int, columns: int) -> str:
        name = f"weight_{len(self.weights)}"
        self.weights.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [rows, columns]))
        self.shipped_bytes += rows * columns * 4
        return name


def latency_graph(arch: Arch, batch: int, seq_len: int, vocab_size: int = LATENCY_VOCAB_SIZE) -> onnx.ModelProto:
    """The fp32 classifier of ``arch`` at [batch, seq_len] ``input_ids`` (see the module
    docstring), its weight matrices as float32 inputs after the token input."""
    if arch.precision != "fp32":
        raise ValueError(f"the latency graph is written for fp32; {arch.key} is exported and quantized instead")
    g = _Graph(np.random.default_rng(0))
    hidden = arch.hidden_size
    x = g.node("Gather", [g.weight(vocab_size, hidden), "input_ids"], axis=0)
    # Token-type ids are all 0 and positions 0..seq_len-1: both lookups are constants.
    x = g.node("Add", [x, g.constant(np.zeros((batch, seq_len, hidden), np.float32), shipped_bytes=2 * hidden * 4)])
    x = g.node("Add", [x, g.constant(np.zeros((1, seq_len, hidden), np.float32), shipped_bytes=seq_len * hidden * 4)])
    x = _layer_norm(g, x, hidden)
    scale = g.constant(np.array(arch.head_dim**-0.25, dtype=np.float32))  # on Q and K both, as sdpa does
    mask = g.constant(np.zeros((batch, 1, seq_len, seq_len), np.float32), shipped_bytes=0)  # all tokens attended
    for layer in arch.layers:
        x = _encoder_layer(g, x, arch, layer.num_heads, layer.intermediate_size, batch, seq_len, scale, mask)
    first = g.node("Gather", [x, g.constant(np.array(0, dtype=np.int64))], axis=1)
    pooled = g.node("Tanh", [_dense(g, first, hidden, hidden)])
    _dense(g, pooled, hidden, NUM_LABELS, output="logits")
    graph = helper.make_graph(
        g.nodes,
        "canao_latency_graph",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [batch, seq_len]), *g.weights],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, NUM_LABELS])],
        g.constants,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    structure = model.ByteSize() - sum(len(tensor.raw_data) for tensor in g.constants)
    helper.set_model_props(model, {TOKEN_INPUTS_KEY: "input_ids", SHIPPED_BYTES_KEY: str(structure + g.shipped_bytes)})
    return model


def _layer_norm(g: _Graph, x: str, width: int) -> str:
    return g.node(
        "LayerNormalization",
        [x, g.parameter(width), g.parameter(width)],
        axis=-1,
        epsilon=LAYER_NORM_EPS,
        stash_type=1,
    )


def _linear(g: _Graph, x: str, rows: int, columns: int) -> str:
    return g.node("Add", [g.node("MatMul", [x, g.weight(rows, columns)]), g.parameter(columns)])


def _dense(g: _Graph, x: str, inputs: int, outputs: int, output: str | None = None) -> str:
    """A ``Linear`` on a [batch, features] tensor, which the exporter writes as ``Gemm``."""
    weight, bias = g.weight(outputs, inputs), g.parameter(outputs)
    return g.node("Gemm", [x, weight, bias], output, alpha=1.0, beta=1.0, transA=0, transB=1)


def _encoder_layer(g, x, arch: Arch, heads: int, ffn: int, batch: int, seq_len: int, scale: str, mask: str) -> str:
    hidden, head_dim = arch.hidden_size, arch.head_dim
    width = heads * head_dim
    split_heads = g.constant(np.array([batch, seq_len, -1, head_dim], dtype=np.int64))
    q, k, v = (
        g.node("Transpose", [g.node("Reshape", [g.node("Add", [part, g.parameter(width)]), split_heads], allowzero=1)],
                perm=[0, 2, 1, 3])
        for part in g.split(g.node("MatMul", [x, g.weight(hidden, 3 * width)]), [width] * 3)
    )  # fmt: skip
    k = g.node("Reshape", [k, g.constant(np.array([-1, seq_len, head_dim], dtype=np.int64))], allowzero=0)
    k = g.node("Transpose", [k], perm=[0, 2, 1])
    k = g.node("Reshape", [k, g.constant(np.array([batch, heads, head_dim, seq_len], dtype=np.int64))], allowzero=0)
    q, k = g.node("Mul", [q, scale]), g.node("Mul", [k, scale])
    probabilities = g.node("Softmax", [g.node("Add", [g.node("MatMul", [q, k]), mask])], axis=-1)
    zero = g.constant(np.array(0.0, dtype=np.float32))
    probabilities = g.node("Where", [g.node("IsNaN", [probabilities]), zero, probabilities])
    context = g.node("MatMul", [probabilities, v])
    if heads == 1:  # the exporter keeps attention's [batch, heads, seq, head_dim] reshape only then
        merge = g.constant(np.array([batch, -1, seq_len, head_dim], dtype=np.int64))
        context = g.node("Reshape", [context, merge], allowzero=1)
    context = g.node("Transpose", [context], perm=[0, 2, 1, 3])
    context = g.node("Reshape", [context, g.constant(np.array([batch, seq_len, -1], dtype=np.int64))], allowzero=1)
    x = _layer_norm(g, g.node("Add", [_linear(g, context, width, hidden), x]), hidden)
    inner = g.node("Gelu", [_linear(g, x, hidden, ffn)], approximate="none")
    return _layer_norm(g, g.node("Add", [_linear(g, inner, ffn, hidden), x]), hidden)
