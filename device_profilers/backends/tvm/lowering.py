"""ONNX graph to the relax module MetaSchedule tunes and TVM compiles."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import tvm
from onnx import helper, numpy_helper
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx

from ...export import graph_inputs
from .default_schedules import schedule_untuned
from .fast_math import fast_math


def lower(onnx_path: Path, batch: int, seq_len: int, target, weights_apart: bool):
    """The relax module of the graph at [batch, seq_len] token inputs, and its weights when
    ``weights_apart`` (then the module takes them as parameters after the tokens).
    Its kernels other than the matmuls are already scheduled (``default_schedules``)."""
    tokens = graph_inputs(onnx_path)
    if weights_apart:
        graph, weights = weights_as_inputs(onnx_path)
    else:
        graph, weights = onnx.load(str(onnx_path)), []
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
                fast_math(),
                relax.transform.DecomposeOpsForInference(),
                relax.transform.CanonicalizeBindings(),
                relax.get_pipeline("zero"),
                # Marks weights as layout-free so tuned matmuls may prepack them.
                relax.transform.AttachAttrLayoutFreeBuffers(),
                # Softmax, norms and layout kernels get their schedules here; MetaSchedule
                # tunes what is left (the matmuls).
                schedule_untuned(),
            ]
        )(mod)
    return mod, weights


def weights_as_inputs(onnx_path: Path):
    """The ONNX graph with its weight matrices (2-D float32 initializers) turned into graph
    inputs, and their values in input order.

    The rest (biases, norms, what the exporter precomputed) stays in the graph, so the
    importer folds what it folds in the self-contained build and the operator workloads,
    hence tuning records and kernels, are the same in both. Done on the ONNX graph because
    the importer's checker serialises the whole model, weights included.
    """
    model = onnx.load(str(onnx_path), load_external_data=False)
    graph, base_dir = model.graph, str(onnx_path.parent)
    kept, weights = [], []
    for tensor in graph.initializer:
        value = numpy_helper.to_array(tensor, base_dir)
        if value.ndim == 2 and value.dtype == np.float32:
            weights.append(value)
            graph.input.append(helper.make_tensor_value_info(tensor.name, onnx.TensorProto.FLOAT, value.shape))
        else:
            kept.append(numpy_helper.from_array(value, tensor.name))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model, weights
