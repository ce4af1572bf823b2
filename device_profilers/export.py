"""Build an Arch's model and export it to ONNX, the one graph format every backend here reads."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from search_spaces import Arch, bert_classifier

from ._torch_onnx import export_program
from .files import atomic_path, scratch_dir
from .latency_graph import LATENCY_VOCAB_SIZE


def build_classifier(arch: Arch, seq_len: int, vocab_size: int = LATENCY_VOCAB_SIZE) -> torch.nn.Module:
    """A randomly initialised two-label BERT classifier of the given shape, in eval mode."""
    torch.manual_seed(0)
    return bert_classifier(arch, vocab_size=vocab_size, max_position_embeddings=seq_len).eval()


class LogitsOnly(torch.nn.Module):
    """Maps token tensors (named by ``inputs``, in order) to ``logits``: latency models take
    ``input_ids`` only; deployed bundles also take ``attention_mask`` and ``token_type_ids``."""

    def __init__(self, classifier: torch.nn.Module, inputs: tuple[str, ...] = ("input_ids",)):
        super().__init__()
        self.classifier = classifier
        self.inputs = inputs

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.classifier(**dict(zip(self.inputs, tensors))).logits


def export_onnx(
    model: torch.nn.Module,
    path: str | os.PathLike,
    batch: int,
    seq_len: int,
    inputs: tuple[str, ...] = ("input_ids",),
    external_data: bool = False,
    precision: str = "fp32",
) -> Path:
    """Export a classifier (token tensors -> logits) with the dynamo exporter at a fixed shape.

    The dynamo exporter, because TVM's ONNX importer rejects the legacy exporter's BERT
    graph; a fixed shape, because the importer cannot infer reshapes over symbolic
    dimensions. Written under a temporary name and renamed.

    ``external_data`` writes the weights raw into a ``.data`` file beside the graph
    (which names that file, so it stays valid after the rename): several times faster
    than serialising them into the protobuf, so profilers use it for their scratch
    exports; bundles keep one self-contained file.

    ``precision="int8"`` writes the graph ``quantize_int8`` makes of it (self-contained:
    its weights are a quarter of the size).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    examples = tuple(
        (torch.ones if name == "attention_mask" else torch.zeros)(batch, seq_len, dtype=torch.long) for name in inputs
    )
    program = export_program(LogitsOnly(model, inputs).eval(), examples, list(inputs), ["logits"])
    _contiguous_initializers(program.model)
    for node in program.model.graph:
        # Which torch module and line each node came from: a third of a small model's file.
        node.metadata_props.clear()
    with atomic_path(path) as partial:
        if precision == "int8":
            with scratch_dir() as tmp:
                program.save(str(Path(tmp) / "fp32.onnx"), external_data=external_data)
                quantize_int8(Path(tmp) / "fp32.onnx", partial)
        else:
            program.save(str(partial), external_data=external_data)
    return path


def quantize_torch(model: torch.nn.Module) -> torch.nn.Module:
    """A CPU copy of ``model`` with its ``Linear`` layers dynamically quantized, PyTorch's
    counterpart of ``quantize_int8`` (int8 weights with a scale per output, activations
    quantized on each call).
    PyTorch marks its quantized tensors deprecated; they still compute, and nothing in
    PyTorch replaces them yet (torchao is not a dependency)."""
    import copy
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantization = torch.ao.quantization
        per_column = {torch.nn.Linear: quantization.per_channel_dynamic_qconfig}
        return quantization.quantize_dynamic(copy.deepcopy(model).cpu(), per_column, dtype=torch.qint8)


def quantize_int8(fp32_path: str | os.PathLike, int8_path: str | os.PathLike) -> None:
    """Write the graph with every matmul by a weight dynamically quantized, as ONNX
    Runtime's ``quantize_dynamic`` does it: int8 weights (symmetric, a scale per output
    column), activations quantized to uint8 on each call (``DynamicQuantizeLinear`` then
    ``MatMulInteger``). Products of two activations (attention's) stay float32, as does
    the embedding lookup. Needs no calibration data; both ONNX Runtime and TVM run it.

    A scale per column, not per matrix: the SST-2 model finalized at 90.14 dev accuracy
    read 90.60 quantized so, 89.33 with one scale a matrix (``docs/int8.md``)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process the graph, on every call
    try:
        quantize_dynamic(
            str(fp32_path),
            str(int8_path),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            extra_options={"MatMulConstBOnly": True},
        )
    finally:
        logging.getLogger().setLevel(quiet)


def _contiguous_initializers(model) -> None:
    """Store each folded initializer (the exporter leaves every matmul weight a transposed
    numpy view) as a contiguous array: numpy writes a strided array element by element,
    which took 1.8 s of an 11-layer BERT-base's export here, the copy 0.2 s."""
    import numpy as np
    import onnx_ir

    for value in model.graph.initializers.values():
        array = getattr(value.const_value, "raw", None)
        if isinstance(array, np.ndarray) and not array.flags["C_CONTIGUOUS"]:
            value.const_value = onnx_ir.Tensor(np.ascontiguousarray(array), name=value.const_value.name)
