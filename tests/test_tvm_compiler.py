"""The relax lowering and the schedules of untuned kernels: real TVM compilation, ONNX Runtime as the reference."""

import numpy as np
import pytest
import tvm
from tvm import relax, tirx

from device_profilers import TuningSettings, local_cpu
from device_profilers.backends.tvm import TvmBackend
from device_profilers.backends.tvm.lowering import lower
from device_profilers.export import build_classifier, export_onnx
from search_spaces import Arch

pytestmark = pytest.mark.slow  # real TVM compilation

ARCH = Arch.uniform(2, 64, 2, 128)
SEQ_LEN = 16


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("tvm-compiler") / "model.onnx"
    return export_onnx(build_classifier(ARCH, SEQ_LEN), path, 1, SEQ_LEN)


def test_exp_erf_and_tanh_are_lowered_to_their_fast_approximations(onnx_path):
    backend = TvmBackend(local_cpu(), onnx_path.parent / "cache", TuningSettings(trials_per_task=0))
    module, _ = lower(onnx_path, 1, SEQ_LEN, backend.target, weights_apart=False)
    functions = {gv.name_hint: func for gv, func in module.functions_items() if isinstance(func, tirx.PrimFunc)}
    assert any("softmax" in name for name in functions) and any("gelu" in name for name in functions)
    kernels = "\n".join(str(func) for func in functions.values())
    for libm_call in ("T.exp(", "T.erf(", "T.tanh("):
        assert libm_call not in kernels


def test_fast_math_logits_agree_with_onnx_runtime(onnx_path):
    import onnxruntime

    tokens = np.random.default_rng(0).integers(0, 1000, (1, SEQ_LEN)).astype(np.int64)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {session.get_inputs()[0].name: tokens})[0]
    backend = TvmBackend(local_cpu(), onnx_path.parent / "cache", TuningSettings(trials_per_task=0))
    executable, _, _ = backend.compile(onnx_path, 1, SEQ_LEN)
    compiled = relax.VirtualMachine(executable, tvm.cpu())["main"](tvm.runtime.tensor(tokens)).numpy()
    assert np.abs(compiled - reference).max() < 1e-5


def test_constants_are_folded_before_relax_so_its_fold_constant_compiles_nothing_in_a_timed_build(tmp_path):
    """The exporter's constant subgraphs go in ONNX Runtime and the importer's index
    guards in numpy; what reaches relax's ``FoldConstant`` has nothing left to fold (each
    fold there is an LLVM build). At sequence 64 the exporter's own folder leaves the
    attention mask and the token-type ids (it logs "Evaluation failed" on them)."""
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    from device_profilers.backends.tvm.index_constants import FoldIndexConstants
    from device_profilers.backends.tvm.lowering import fold_constant_nodes, weights_as_inputs

    seq_len = 64
    graph = onnx.load(str(export_onnx(build_classifier(ARCH, seq_len), tmp_path / "model.onnx", 1, seq_len)))
    assert fold_constant_nodes(graph) >= 2
    graph, _ = weights_as_inputs(graph)  # as timed; constant weights' transposes are relax's to fold
    target = TvmBackend(local_cpu(), tmp_path / "cache", TuningSettings(trials_per_task=0)).target
    with target:
        imported = from_onnx(graph, shape_dict={"input_ids": [1, seq_len]})
        module = relax.transform.LegalizeOps()(FoldIndexConstants()(imported))
        assert _kernel_calls(relax.transform.FoldConstant()(module)) == _kernel_calls(module)


def test_a_new_architecture_with_known_kernels_is_linked_from_them_and_computes_the_same(tmp_path):
    """One layer fewer: the same kernels, none built again; the linked executable gives the
    logits of the self-contained build of the same graph and weights."""
    import onnx

    from device_profilers.latency_graph import latency_graph

    backend = TvmBackend(local_cpu(), tmp_path / "cache", TuningSettings(trials_per_task=0))
    tokens = tvm.runtime.tensor(np.random.default_rng(0).integers(0, 1000, (1, SEQ_LEN)).astype(np.int64))
    logits, kernels = [], []
    for layers in (3, 2):
        path = tmp_path / f"L{layers}.onnx"
        onnx.save(latency_graph(Arch.uniform(layers, 64, 2, 128), 1, SEQ_LEN), str(path))
        executable, weights, _ = backend.compile(path, 1, SEQ_LEN, weights_apart=True)
        kernels.append(len(backend.kernels))
        vm = relax.VirtualMachine(executable, tvm.cpu())
        logits.append(vm["main"](tokens, *vm["main_transform_params"]([tvm.runtime.tensor(w) for w in weights])))
    assert kernels[0] > 0 and kernels[1] == kernels[0]
    whole, _, _ = backend.compile(path, 1, SEQ_LEN, weights_apart=False)
    reference = relax.VirtualMachine(whole, tvm.cpu())["main"](tokens).numpy()
    assert np.abs(logits[1].numpy() - reference).max() < 1e-5


def _kernel_calls(module) -> int:
    calls = []
    relax.analysis.post_order_visit(
        module["main"],
        lambda e: calls.append(e) if isinstance(e, relax.Call) and e.op.name == "relax.call_tir" else None,
    )
    return len(calls)


def test_softmax_norm_and_layout_kernels_are_scheduled_at_lowering_in_parallel_and_vectorised(onnx_path):
    backend = TvmBackend(local_cpu(), onnx_path.parent / "cache", TuningSettings(trials_per_task=0))
    module, _ = lower(onnx_path, 1, SEQ_LEN, backend.target, weights_apart=True)  # schedules them
    kernels = {gv.name_hint: str(func) for gv, func in module.functions_items() if isinstance(func, tirx.PrimFunc)}
    scheduled = [name for name in kernels if any(part in name for part in ("softmax", "layer_norm", "transpose"))]
    assert scheduled
    for name in scheduled:
        assert "T.parallel(" in kernels[name] and "T.vectorized(" in kernels[name], name


def test_row_reductions_are_vectorised_across_lanes_and_matmuls_are_left_to_tuning():
    from tvm.script import relax as R

    from device_profilers.backends.tvm.default_schedules import RowReduction
    from device_profilers.devices import host_target

    @R.function
    def main(x: R.Tensor((1, 64, 96), "float32"), w: R.Tensor((96, 32), "float32"), g: R.Tensor((96,), "float32")):
        normed = R.nn.layer_norm(x, g, g, axes=[-1], epsilon=1e-12)
        return (normed, R.nn.softmax(x, axis=-1), R.matmul(x, w))

    kernels = relax.transform.LegalizeOps()(tvm.IRModule({"main": main}))
    target = tvm.target.Target(host_target(2))
    rule = RowReduction()
    by_name = {gv.name_hint: f for gv, f in kernels.functions_items() if isinstance(f, tirx.PrimFunc)}
    assert rule.apply(by_name["matmul"], target, False) is None
    rng = np.random.default_rng(0)
    for name in ("layer_norm", "softmax"):
        schedule = rule.apply(by_name[name], target, False)
        assert "_rf" in str(schedule.mod["main"])  # the reductions went through rfactor
        assert _largest_difference(by_name[name], schedule.mod["main"], target, rng) < 1e-5, name


def test_matmuls_are_register_tiled_with_weights_repacked_and_compute_the_same():
    from tvm.script import relax as R

    from device_profilers.backends.tvm.default_schedules import Matmul
    from device_profilers.devices import host_target

    @R.function
    def main(
        x: R.Tensor((1, 32, 64), "float32"),
        w: R.Tensor((64, 96), "float32"),
        b: R.Tensor((96,), "float32"),
        q: R.Tensor((1, 2, 32, 16), "float32"),
        k: R.Tensor((1, 2, 16, 32), "float32"),
        odd: R.Tensor((64, 3), "float32"),
    ):
        R.func_attr({"num_input": 1})
        with R.dataflow():  # FuseOps fuses inside dataflow blocks only
            projected = R.nn.gelu(R.add(R.matmul(x, w), b))
            scores = R.matmul(q, k)
            narrow = R.matmul(x, odd)
            R.output(projected, scores, narrow)
        return (projected, scores, narrow)

    with tvm.target.Target(host_target(2)) as target:
        mod = relax.get_pipeline("zero")(tvm.IRModule({"main": main}))  # legalised and fused, as lowering does
        mod = relax.transform.AttachAttrLayoutFreeBuffers()(mod)
    kernels = {gv.name_hint: f for gv, f in mod.functions_items() if isinstance(f, tirx.PrimFunc)}
    rule = Matmul()
    projection = next(name for name in kernels if "gelu" in name)
    schedules = {name: rule.apply(kernels[name], target, False) for name in kernels if "matmul" in name}
    declined = [name for name, schedule in schedules.items() if schedule is None]
    assert [[int(d) for d in kernels[name].params[-1].shape] for name in declined] == [[1, 32, 3]]  # 3 columns
    assert "meta_schedule.layout_rewrite_preproc" in str(schedules[projection].mod["main"])  # the weight repacked
    rng = np.random.default_rng(0)
    for name, schedule in schedules.items():
        if schedule is None:
            continue
        text = str(schedule.mod["main"])
        assert "T.parallel(" in text and "T.vectorized(" in text and "_local" in text, name
        assert _largest_difference(kernels[name], schedule.mod["main"], target, rng) < 1e-4, name


def test_each_blocks_q_k_v_projections_are_packed_into_one_matmul_with_the_same_logits(onnx_path, tmp_path):
    import onnx
    import onnxruntime

    from device_profilers.backends.tvm.lowering import pack_parallel_matmuls

    model = onnx.load(str(onnx_path))
    matmuls = sum(node.op_type == "MatMul" for node in model.graph.node)
    assert pack_parallel_matmuls(model) == ARCH.num_layers
    assert sum(node.op_type == "MatMul" for node in model.graph.node) == matmuls - 2 * ARCH.num_layers
    onnx.save(model, str(tmp_path / "packed.onnx"))
    tokens = {"input_ids": np.random.default_rng(0).integers(0, 1000, (1, SEQ_LEN)).astype(np.int64)}
    logits = [
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, tokens)[0]
        for path in (onnx_path, tmp_path / "packed.onnx")
    ]
    assert np.abs(logits[0] - logits[1]).max() < 1e-6


def test_int8_matmuls_run_as_vnni_dot_products_and_match_onnx_runtime(tmp_path):
    """The graph ONNX Runtime's dynamic quantization writes: TVM keeps its weight matmuls
    in uint8 x int8 (one vpdpbusd a vector) and gives ONNX Runtime's logits."""
    import onnxruntime

    from device_profilers.backends.tvm.default_schedules._matmul import _has_vnni

    backend = TvmBackend(local_cpu(), tmp_path / "cache", TuningSettings(trials_per_task=0))
    if not _has_vnni(backend.target):
        pytest.skip("this CPU has no AVX-512 VNNI (the int8 matmul schedule needs it)")
    path = export_onnx(build_classifier(ARCH, SEQ_LEN), tmp_path / "int8.onnx", 1, SEQ_LEN, precision="int8")
    module, _ = lower(path, 1, SEQ_LEN, backend.target, weights_apart=True)
    kernels = {gv.name_hint: str(f) for gv, f in module.functions_items() if isinstance(f, tirx.PrimFunc)}
    integer = [text for name, text in kernels.items() if "matmul" in name and '"uint8"' in text]
    on_vnni = [text for text in integer if "vpdpbusd" in text]
    # Q/K/V, attention output, FFN in and out (layers share kernels); not the pooler's one
    # row nor the classifier's two columns.
    assert len(on_vnni) >= 4 and len(integer) - len(on_vnni) == 2
    tokens = np.random.default_rng(0).integers(0, 1000, (1, SEQ_LEN)).astype(np.int64)
    reference = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"input_ids": tokens}
    )[0]
    executable, weights, stats = backend.compile(path, 1, SEQ_LEN, weights_apart=True)
    vm = relax.VirtualMachine(executable, tvm.cpu())
    prepacked = vm["main_transform_params"]([tvm.runtime.tensor(w) for w in weights])
    compiled = vm["main"](tvm.runtime.tensor(tokens), *prepacked).numpy()
    assert stats.tuned_tasks == 0
    # Activations are quantized per call in both; the two round a few values differently.
    assert np.abs(compiled - reference).max() < 0.02 * max(np.abs(reference).max(), 1e-3)


def _largest_difference(plain, scheduled, target, rng) -> float:
    """Both kernels compiled and run on the same random inputs: the largest difference of
    their outputs (the last parameter)."""
    args = [rng.standard_normal([int(d) for d in p.shape]).astype("float32") for p in plain.params]
    outputs = []
    for func in (plain, scheduled):
        tensors = [tvm.runtime.tensor(a) for a in args]
        tvm.compile(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}), target=target)(*tensors)
        outputs.append(tensors[-1].numpy())
    return float(np.abs(outputs[0] - outputs[1]).max())
