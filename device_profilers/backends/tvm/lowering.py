"""ONNX graph to the relax module MetaSchedule tunes and TVM compiles."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import onnx
import tvm
from onnx import helper, numpy_helper
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx

from ...onnx_files import token_inputs
from .default_schedules import schedule_untuned
from .fast_math import fast_math
from .index_constants import FoldIndexConstants
from .integer_matmuls import IntegerMatmuls


def lower(onnx_path: Path, batch: int, seq_len: int, target, weights_apart: bool, matmul_rule: bool = True):
    """The relax module of the graph at [batch, seq_len] token inputs, and its weights when
    ``weights_apart`` (then the module takes them as parameters after the tokens).
    Every kernel a rule of ``default_schedules`` takes is already scheduled; the matmuls
    are left to tuning when ``matmul_rule`` is False.

    A graph ``latency_graph`` wrote is already folded and packed, its weight matrices
    inputs: they get random values (one array per shape, shared), kept apart or put in.
    """
    graph = onnx.load(str(onnx_path))
    tokens = token_inputs(graph)
    known = set(tokens) | {tensor.name for tensor in graph.graph.initializer}
    weight_inputs = [value for value in graph.graph.input if value.name not in known]
    if weight_inputs:
        weights = [_random_weight(tuple(d.dim_value for d in v.type.tensor_type.shape.dim)) for v in weight_inputs]
        if not weights_apart:
            _weights_inside(graph, weight_inputs, weights)
            weights = []
    else:
        fold_constant_nodes(graph)
        pack_parallel_matmuls(graph)
        graph, weights = weights_as_inputs(graph) if weights_apart else (graph, [])
    with warnings.catch_warnings():
        # Weight inputs are named after torch parameters; the importer renames each and warns.
        warnings.filterwarnings("ignore", message="Renaming name")
        mod = from_onnx(graph, shape_dict={name: [batch, seq_len] for name in tokens})
    if weights:
        # num_input tells the passes below which parameters are weights (they get prepacked).
        mod["main"] = mod["main"].with_attr("num_input", len(tokens))
    with target:
        mod = tvm.transform.Sequential(
            [
                IntegerMatmuls(),
                FoldIndexConstants(),
                relax.transform.DeadCodeElimination(),
                fast_math(),
                relax.transform.DecomposeOpsForInference(),
                relax.transform.CanonicalizeBindings(),
                relax.get_pipeline("zero"),
                # Marks weights as layout-free so matmul schedules may repack them.
                relax.transform.AttachAttrLayoutFreeBuffers(),
                # Kernels the rules take get their schedules here; MetaSchedule tunes the rest.
                schedule_untuned(matmuls=matmul_rule),
            ]
        )(mod)
    return mod, weights


def fold_constant_nodes(model: onnx.ModelProto) -> int:
    """Replace, in place, every node computed from constants alone (the exporter's
    attention mask, position and token-type ids) by its value, worked out by ONNX Runtime
    in one session; returns how many nodes went.

    relax's ``FoldConstant`` would fold them too, but compiles a kernel with LLVM for each,
    0.2 s of every compile here; it then finds nothing to do.
    """
    import onnxruntime

    graph = model.graph
    known = {tensor.name for tensor in graph.initializer}
    folded = []
    for node in graph.node:
        inputs = [name for name in node.input if name]
        if (inputs or node.op_type == "Constant") and all(name in known for name in inputs):
            folded.append(node)
            known.update(node.output)
    if not folded:
        return 0
    kept = [node for node in graph.node if node not in folded]
    read = {name for node in kept for name in node.input} | {value.name for value in graph.output}
    wanted = [name for node in folded for name in node.output if name in read]
    feeds = {name for node in folded for name in node.input}
    subgraph = helper.make_graph(
        folded,
        "constants",
        [],
        [onnx.ValueInfoProto(name=name) for name in wanted],
        [tensor for tensor in graph.initializer if tensor.name in feeds],
    )
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(
        helper.make_model(subgraph, opset_imports=model.opset_import, ir_version=model.ir_version).SerializeToString(),
        options,
        providers=["CPUExecutionProvider"],
    )
    values = session.run(wanted, {})
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(numpy_helper.from_array(np.asarray(v), name) for name, v in zip(wanted, values))
    _drop_unread_initializers(graph)
    return len(folded)


def pack_parallel_matmuls(model: onnx.ModelProto) -> int:
    """Matmuls of one input by constant weights (an attention block's Q, K and V
    projections) rewritten in place as one matmul by the concatenated weights and a
    ``Split``; returns how many groups were packed.

    One 384x1152 GEMM keeps the cores busier than three 384x384 ones: MiniLM-L6 ran in
    0.94x the time, side by side. ONNX Runtime's attention fusion packs them the same way.
    Done on the ONNX graph, before the weights may become inputs, so the self-contained
    build and the timed one have the same kernels (relax's ``CombineParallelMatmul`` does
    not fire on the imported graph: it needs the biases as parameters).
    """
    graph = model.graph
    if max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0) < 13:
        return 0  # Split takes its sizes as an input from opset 13
    constants = {tensor.name: tensor for tensor in graph.initializer}
    by_input: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        weight = constants.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is not None and len(weight.dims) == 2 and weight.data_type == onnx.TensorProto.FLOAT:
            by_input.setdefault(node.input[0], []).append(node)
    packed = 0
    for source, nodes in by_input.items():
        if len(nodes) < 2 or len({tuple(constants[node.input[1]].dims)[0] for node in nodes}) != 1:
            continue  # a lone matmul's weight (every FFN's) is not even read
        values = [numpy_helper.to_array(constants[node.input[1]]) for node in nodes]
        name = f"canao_packed_matmul_{packed}"
        weight = numpy_helper.from_array(np.concatenate(values, axis=1), f"{name}_weight")
        sizes = numpy_helper.from_array(np.array([v.shape[1] for v in values], dtype=np.int64), f"{name}_sizes")
        graph.initializer.extend([weight, sizes])
        at = list(graph.node).index(nodes[0])
        for node in nodes:
            graph.node.remove(node)
        graph.node.insert(at, helper.make_node("Split", [name, sizes.name], [n.output[0] for n in nodes], axis=-1))
        graph.node.insert(at, helper.make_node("MatMul", [source, weight.name], [name]))
        packed += 1
    if packed:
        _drop_unread_initializers(graph)
    return packed


def _drop_unread_initializers(graph: onnx.GraphProto) -> None:
    read = {name for node in graph.node for name in node.input} | {value.name for value in graph.output}
    kept = [tensor for tensor in graph.initializer if tensor.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)


@functools.lru_cache(maxsize=32)
def _random_weight(shape: tuple[int, ...]) -> np.ndarray:
    """A read-only float32 matrix of small random values, one per shape per process (a
    latency does not depend on the values, and shared arrays are moved once)."""
    weight = np.random.default_rng(len(shape) + sum(shape)).standard_normal(shape, dtype=np.float32) * 0.02
    weight.setflags(write=False)
    return weight


def _weights_inside(model: onnx.ModelProto, inputs: list, weights: list[np.ndarray]) -> None:
    """Turn weight ``inputs`` into initializers holding ``weights`` (a self-contained build)."""
    for value, weight in zip(inputs, weights):
        model.graph.input.remove(value)
        model.graph.initializer.append(numpy_helper.from_array(weight, value.name))


def weights_as_inputs(model: onnx.ModelProto):
    """The ONNX graph with its weight matrices (2-D float32 initializers) turned into graph
    inputs, and their values in input order.

    The rest (biases, norms, what the exporter precomputed) stays in the graph, so the
    importer folds what it folds in the self-contained build and the operator workloads,
    hence tuning records and kernels, are the same in both. Done on the ONNX graph because
    the importer's checker serialises the whole model, weights included.
    """
    graph = model.graph
    kept, weights = [], []
    for tensor in graph.initializer:
        value = numpy_helper.to_array(tensor)
        if value.ndim == 2 and value.dtype in (np.float32, np.int8):
            weights.append(value)
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, value.shape))
        else:
            kept.append(tensor)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model, weights
