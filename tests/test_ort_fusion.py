"""ONNX Runtime's transformer optimizer with the attention fusion of ``ort_fusion``, on real
exported graphs, checked against the unfused graph in ONNX Runtime."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from device_profilers.backends.ort_fusion import optimize_for_ort
from device_profilers.export import build_classifier, export_onnx
from search_spaces import Arch


@pytest.mark.parametrize(
    ("key", "attention"),
    [("L2-H64-A4-I128", "eager"), ("L3-H64-D16-A4.2.1-I128.64.256", "sdpa")],
)
def test_every_attention_block_fuses_and_the_logits_stay(tmp_path, key, attention):
    arch = Arch.from_key(key)
    model = build_classifier(arch, seq_len=16)
    model.set_attn_implementation(attention)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():  # weights far from the initialisation's, so a wrong fusion shows in the logits
        for parameter in model.parameters():
            parameter.normal_(0, 0.2, generator=generator)
    exported = export_onnx(model, tmp_path / "model.onnx", batch=2, seq_len=16)
    fused = optimize_for_ort(exported, tmp_path / "fused.onnx")
    assert fused["Attention"] == arch.num_layers and fused["SkipLayerNormalization"] == 2 * arch.num_layers
    ids = np.random.default_rng(0).integers(0, 1000, (2, 16))
    plain, optimized = (
        ort.InferenceSession(str(path)).run(None, {"input_ids": ids})[0] for path in (exported, tmp_path / "fused.onnx")
    )
    assert np.abs(plain).max() > 0.1 and np.allclose(plain, optimized, atol=1e-4)
