"""ONNX Runtime's transformer optimizer, with an attention fusion that fires on our graphs.

``onnxruntime.transformers.optimizer`` (model type ``bert``) fuses SkipLayerNormalization,
Gelu and BiasGelu on the dynamo exporter's BERT graph but never Attention: its patterns
expect the legacy exporter's mask arithmetic, and the dynamo graph's attention (SDPA or
eager, mask folded to a constant) matches none of them. ``AttentionFromExport`` is a
fusion of the optimizer's own kind that reads that graph and emits the same
``com.microsoft.Attention`` node (packed Q/K/V weights) through ORT's own node builder, so
the baseline is the graph a careful ONNX Runtime user ships.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from onnx import NodeProto, numpy_helper
from onnxruntime.transformers.fusion_attention import FusionAttention
from onnxruntime.transformers.onnx_model import OnnxModel

logger = logging.getLogger(__name__)

#: ``[B, S, N, D] -> [B, N, S, D]``: how a projection is split into heads.
HEADS_FIRST = [0, 2, 1, 3]


class AttentionFromExport(FusionAttention):
    """Fuses each attention block of a dynamo-exported BERT graph into one ``Attention`` node.

    Anchored on the Softmax, it matches both of transformers' attention implementations
    after ORT's constant folding:

    - eager: ``Softmax(Add?(Mul(MatMul(Q, K^T), scale), bias))``;
    - SDPA: ``Softmax(Add?(MatMul(Mul(Q, s), Mul(K^T, s)), bias))``, then a NaN guard
      ``Where(IsNaN(p), 0, p)`` (rows with every key masked; a constant bias has none);

    where Q and V are ``Transpose(Reshape(Add(MatMul(x, W), b)))`` of the same input, K^T
    the same projection of it under reshapes and transposes, and the product with V goes
    through ``Transpose`` and ``Reshape`` back to ``[B, S, width]``.
    An additive bias must be a constant (the latency graphs have no mask input): all zeros
    is dropped, anything else becomes the node's ``attention_bias``. Heads per layer come
    from each block's own reshape, so per-layer architectures fuse too.
    """

    def __init__(self, model: OnnxModel):
        super().__init__(model, hidden_size=0, num_heads=0, search_op_types=["Softmax"])

    def fuse(self, softmax: NodeProto, input_name_to_nodes, output_name_to_node):
        scores = self.model.get_parent(softmax, 0, output_name_to_node)
        bias_name = None
        if scores is not None and scores.op_type == "Add":
            bias_name, scores = self._constant_bias(scores, output_name_to_node)
        if scores is None:
            return
        matched = self._qk(scores, output_name_to_node)
        if matched is None:
            return
        qk_nodes, q_path, k_path, scale = matched
        after = self._after_softmax(softmax, input_name_to_nodes)
        if after is None:
            return
        guard_nodes, matmul_pv = after
        v_path = self._projection(matmul_pv, 1, [HEADS_FIRST], output_name_to_node)
        out_path = self._single_child_path(matmul_pv, ["Transpose", "Reshape"], input_name_to_nodes)
        if v_path is None or out_path is None or _perm(out_path[0]) != HEADS_FIRST:
            return
        x = q_path[-1].input[0]
        if k_path[-1].input[0] != x or v_path[-1].input[0] != x:
            return
        num_heads = self._heads(q_path[-3], q_path[-1])
        if num_heads is None:
            return
        node = self.create_attention_node(
            mask_index=None,
            q_matmul=q_path[-1], k_matmul=k_path[-1], v_matmul=v_path[-1],
            q_add=q_path[-2], k_add=k_path[-2], v_add=v_path[-2],
            num_heads=num_heads, hidden_size=0, first_input=x, output=out_path[-1].output[0],
            add_qk_str=bias_name or "", scale=scale,
        )  # fmt: skip
        if node is None:
            return
        self.nodes_to_add.append(node)
        self.node_name_to_graph_name[node.name] = self.this_graph_name
        self.nodes_to_remove.extend([softmax, *qk_nodes, *guard_nodes, matmul_pv, *out_path])
        self.nodes_to_remove.extend([*q_path, *k_path, *v_path])
        self.prune_graph = True

    def _constant_bias(self, add: NodeProto, output_name_to_node) -> tuple[str | None, NodeProto | None]:
        """(the bias's name, or None where it is all zeros; the scores node), or (None, None)
        where the Add's other input is not a constant."""
        for index in (0, 1):
            bias = self.model.get_initializer(add.input[1 - index])
            scores = self.model.get_parent(add, index, output_name_to_node)
            if bias is not None and scores is not None:
                return (None if not np.any(numpy_helper.to_array(bias)) else bias.name), scores
        return None, None

    def _qk(self, scores: NodeProto, output_name_to_node):
        """(nodes between Q, K and the scores; Q's path; K's path; the scale), or None."""
        if scores.op_type == "Mul":  # eager: the product is scaled
            scale = self._scalar(scores)
            matmul = self.model.match_parent(scores, "MatMul", 0, output_name_to_node)
            if scale is None or matmul is None:
                return None
            q_path = self._projection(matmul, 0, [HEADS_FIRST], output_name_to_node)
            k_path = self._key_projection(matmul, 1, output_name_to_node)
            qk_nodes = [scores, matmul]
        elif scores.op_type == "MatMul":  # SDPA: Q and K^T scaled by the root of the scale each
            mul_q = self.model.match_parent(scores, "Mul", 0, output_name_to_node)
            mul_k = self.model.match_parent(scores, "Mul", 1, output_name_to_node)
            if mul_q is None or mul_k is None or self._scalar(mul_q) is None or self._scalar(mul_k) is None:
                return None
            scale = self._scalar(mul_q) * self._scalar(mul_k)
            q_path = self._projection(mul_q, 0, [HEADS_FIRST], output_name_to_node)
            k_path = self._key_projection(mul_k, 0, output_name_to_node)
            qk_nodes = [scores, mul_q, mul_k]
        else:
            return None
        if q_path is None or k_path is None:
            return None
        return qk_nodes, q_path, k_path, scale

    def _projection(self, node: NodeProto, index: int, perms: list[list[int]], output_name_to_node):
        """The path ``[Transpose..., Reshape, Add, MatMul]`` above ``node``'s input ``index``
        whose transposes permute as ``perms`` say, or None."""
        kinds = ["Transpose"] * len(perms) + ["Reshape", "Add", "MatMul"]
        path = self.model.match_parent_path(node, kinds, [index] + [0] * (len(kinds) - 2) + [None])
        if path is None or [_perm(n) for n in path[: len(perms)]] != perms:
            return None
        return path

    def _key_projection(self, node: NodeProto, index: int, output_name_to_node):
        """K's path above ``node``'s input ``index``: ``Add(MatMul(x, W), b)`` then the
        reshapes and transposes that turn it into ``K^T`` per head (their form depends on
        the exporter, the attention implementation and ORT's folding: ``Transpose(0,2,3,1)``,
        ``Transpose(0,1,3,2)`` after the head split, or a 3-D reshape around a transpose).
        Returned as ``[layout nodes..., Add, MatMul]``, or None."""
        layout = []
        parent = self.model.get_parent(node, index, output_name_to_node)
        while parent is not None and parent.op_type in ("Transpose", "Reshape") and len(layout) < 4:
            layout.append(parent)
            parent = self.model.get_parent(parent, 0, output_name_to_node)
        if parent is None or parent.op_type != "Add" or not any(n.op_type == "Transpose" for n in layout):
            return None
        projection = self.model.match_parent_path(layout[-1], ["Add", "MatMul"], [0, None])
        return None if projection is None else [*layout, *projection]

    def _after_softmax(self, softmax: NodeProto, input_name_to_nodes):
        """(the NaN guard's nodes, the MatMul with V) below the Softmax, or None."""
        children = input_name_to_nodes.get(softmax.output[0], [])
        kinds = sorted(c.op_type for c in children)
        if kinds == ["MatMul"]:
            return [], children[0]
        if kinds != ["IsNaN", "Where"]:
            return None
        isnan, where = sorted(children, key=lambda c: c.op_type)
        consumers = input_name_to_nodes.get(where.output[0], [])
        if where.input[0] != isnan.output[0] or len(consumers) != 1 or consumers[0].op_type != "MatMul":
            return None
        return [isnan, where], consumers[0]

    def _single_child_path(self, node: NodeProto, kinds: list[str], input_name_to_nodes) -> list[NodeProto] | None:
        path = []
        for kind in kinds:
            children = input_name_to_nodes.get(node.output[0], [])
            if len(children) != 1 or children[0].op_type != kind:
                return None
            node = children[0]
            path.append(node)
        return path

    def _scalar(self, mul: NodeProto) -> float | None:
        for name in mul.input:
            value = self.model.get_constant_value(name)
            if value is not None and np.size(value) == 1:
                return float(np.asarray(value).reshape(()))
        return None

    def _heads(self, reshape: NodeProto, matmul: NodeProto) -> int | None:
        """Heads of a ``[B, S, N, D]`` split: N, or the projection's width over D where the
        exporter left N to be inferred (-1)."""
        shape = self.model.get_constant_value(reshape.input[1])
        weight = self.model.get_initializer(matmul.input[1])
        if shape is None or len(shape) != 4 or weight is None:
            return None
        if shape[2] > 0:
            return int(shape[2])
        width = int(np.prod(weight.dims[1:]))
        return width // int(shape[3]) if shape[3] > 0 and width % shape[3] == 0 else None


def _perm(node: NodeProto) -> list[int]:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), [])


def optimize_for_ort(onnx_path: str | Path, out_path: str | Path, fuse_attention: bool = True) -> dict[str, int]:
    """Run ORT's transformer optimizer (model type ``bert``, constant folding first) and,
    with ``fuse_attention``, ``AttentionFromExport`` on a graph; write it to ``out_path``
    and return how many of each fused operator it holds."""
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(str(onnx_path), model_type="bert", num_heads=0, hidden_size=0, opt_level=1)
    if fuse_attention:
        AttentionFromExport(model).apply()
        model.prune_graph()
    model.save_model_to_file(str(out_path), use_external_data_format=False)
    return {op: count for op, count in model.get_fused_operator_statistics().items() if count}
