"""The full-range sparse BlazeFace port against the shipped .tflite (needs `python scripts/fetch_models.py`)."""

import numpy as np
import pytest
import torch

from reference_impls import _detection as det
from reference_impls import _shipped, _tflite
from reference_impls import face_detector_full_sparse as fs
from tests.conftest import SHIPPED

pytestmark = SHIPPED


@pytest.fixture(scope="module")
def model():
    return fs.face_detector_full_sparse()


def test_densified_weights_equal_litert_densify_output():
    """Our reading of the sparse format gives exactly what LiteRT's DENSIFY operator computes."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = _shipped.model_path(fs.FILE)
    graph = _tflite.Graph(path)
    interpreter = Interpreter(
        model_path=str(path),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], np.zeros((1, 192, 192, 3), np.float32))
    interpreter.invoke()
    densify = [op for op in graph.ops if op.type == "DENSIFY"]
    assert len(densify) == 46
    for op in densify:
        ours = graph.constant(op.outputs[0])[0]
        assert np.array_equal(ours, interpreter.get_tensor(op.outputs[0]).astype(np.float32))


def test_every_tensor_is_used_once_and_the_sparse_layers_are_70_percent_zeros():
    weights = _tflite.Graph(_shipped.model_path(fs.FILE)).weights()
    port = fs.face_detector_full_sparse(weights=False)
    pairs = _tflite.load(port, weights)
    assert len(pairs) == len(weights) == len(list(port.parameters()))
    assert len({tensor for _, tensor in pairs}) == len(weights)
    table = fs.sparsity_table()
    assert table["sparse_tensors"] == 46 and table["sparse_tensor_ops"] == ["CONV_2D"]
    assert 0.69 < table["sparse_layer_sparsity_min"] <= table["sparse_layer_sparsity_max"] < 0.71
    assert table["stored_values"] < 0.4 * table["dense_values"]


def test_depth_to_space_uses_tensorflows_channel_order():
    x = torch.arange(8 * 2, dtype=torch.float32).reshape(1, 8, 1, 2)  # C = r²·2 with r = 2, H = 1, W = 2
    y = fs.depth_to_space(x, 2)
    assert y.shape == (1, 2, 2, 4)
    # output[c, i, w·2 + j] = input[(i·2 + j)·2 + c, 0, w]
    assert y[0, 1, 1, 2] == x[0, (1 * 2 + 0) * 2 + 1, 0, 1]


@pytest.mark.parametrize("photo", ["astronaut.png", "grace_hopper.jpg", "camera.png", "coffee.png"])
def test_port_matches_the_original_on_photographs(model, photo):
    x, _ = det.letterbox(_shipped.photo(photo), fs.SIZE)
    theirs, ours = fs.runner("original")(x), fs.runner("port", model)(x)
    assert ours[0].shape == (1, 2304, 16) and ours[1].shape == (1, 2304, 1)
    assert max(float(np.abs(a - b).max()) for a, b in zip(theirs, ours, strict=True)) <= 1e-3
    reference, found = fs.detect(theirs), fs.detect(ours)
    assert len(found) == len(reference) == (0 if photo == "coffee.png" else 1)
    assert det.reproduced(reference, found) == len(reference)


def test_run_image_agrees_between_runtimes():
    path = _shipped.photo("grace_hopper.jpg")
    port, original = fs.run_image(path), fs.run_image(path, runtime="original")
    assert len(port["detections"]) == len(original["detections"]) == 1
    assert np.abs(np.array(port["detections"][0]["box"]) - original["detections"][0]["box"]).max() < 0.5


def test_quick_experiment_reaches_the_parity_targets():
    result = fs.run(quick=True)
    assert result["anchors"] == 2304
    assert result["reference_max_abs_diff"] <= 1e-3 and result["reference_agreement"] >= 0.99
    assert result["port"] == result["original"]


def test_int8_keeps_the_named_block_in_float(model):
    """`pt2e_int8(keep=...)` leaves the kept block's convolutions on float weights and quantizes every other one."""
    from reference_impls._export import Named
    from reference_impls._pt2e import pt2e_int8

    quantized = pt2e_int8(Named(model), torch.rand(2, 3, 192, 192) * 2 - 1, ("model.top_down.2",))
    int8_weights: dict[bool, set[bool]] = {True: set(), False: set()}
    for node in quantized.graph.nodes:
        if node.op == "call_function" and "conv2d" in str(node.target):
            path = list(node.meta["nn_module_stack"].values())[-1][0]
            kept = path.startswith("model.top_down.2.")
            int8_weights[kept].add("dequantize" in str(getattr(node.args[1], "target", "")))
    assert int8_weights == {True: {False}, False: {True}}
    assert set(fs.blocks(model)) >= {"stem", "top_down.2", "heads"}


@pytest.mark.slow
def test_every_runtime_keeps_the_named_block_in_float(model, tmp_path):
    """`export_port(keep=...)`: the kept block's convolutions read float weights in the ONNX and the LiteRT int8 files."""
    import onnx
    from ai_edge_litert.interpreter import Interpreter

    from reference_impls import _shipped_bench

    kept = [m for m in model.top_down[2].modules() if isinstance(m, torch.nn.Conv2d)]
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    calibration = torch.rand(2, 3, 192, 192) * 2 - 1
    _shipped_bench.export_port(
        model, calibration, tmp_path, ("onnxruntime", "litert"), keep=fs.blocks(model)["top_down.2"]
    )
    graph = onnx.load(str(tmp_path / "port_int8.onnx")).graph
    float_weights = {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 4}
    onnx_convs = [n for n in graph.node if n.op_type == "Conv"]
    assert len(onnx_convs) == convs
    assert sum(n.input[1] in float_weights for n in onnx_convs) == len(kept) > 0
    interpreter = Interpreter(model_path=str(tmp_path / "port_int8.tflite"))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    lite_convs = [op for op in interpreter._get_ops_details() if "CONV_2D" in op["op_name"]]
    assert len(lite_convs) == convs
    assert sum(tensors[op["inputs"][1]]["dtype"] == np.float32 for op in lite_convs) == len(kept)


@pytest.mark.slow
def test_int8_kept_rebuilds_the_int8_files_only_and_scores_them(model, tmp_path):
    """`int8_kept` reuses the fp32 `.tflite` it is given, writes a new int8 one, and scores and times each runtime."""
    from reference_impls import _shipped_bench

    calibration = torch.rand(2, 3, 192, 192) * 2 - 1
    exported = _shipped_bench.export_port(model, calibration, tmp_path, ("onnxruntime", "litert"))
    scored = []

    def score(outputs):
        scored.append(outputs)
        return {"agreement": 1.0}

    folder, images = tmp_path / "kept", calibration.numpy()
    result = _shipped_bench.int8_kept(model, calibration, fs.blocks(model)["heads"], exported, folder, images, score, 2)
    assert sorted(result) == ["litert", "onnxruntime"]
    assert not (folder / "port.tflite").exists() and (folder / "port_int8.tflite").exists()
    for name, figures in result.items():
        assert (
            figures["int8_bytes"]
            == (folder / ("port_int8.onnx" if name == "onnxruntime" else "port_int8.tflite")).stat().st_size
        )
        assert figures["int8_speedup"] > 0
    assert [len(outputs) for outputs in scored] == [2, 2] and all(len(o) == 2 for o in scored[0])
