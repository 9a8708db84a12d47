import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from reference_impls import _export as export
from reference_impls import quantization as q
from reference_impls._data import mnist, subset
from reference_impls._ort import ort_static_int8, ort_weight_type
from reference_impls._training import train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained():
    split = subset(mnist(), train=400, val=50, test=100)
    torch.manual_seed(0)
    with q.threads(1):
        model = train(q.small_mobilenet(16), split, epochs=1, lr=3e-3, seed=0, desc="test")
    return q.fold_batchnorm(model), split


def to_onnx(model, path: str) -> None:
    export.to_onnx(model, torch.zeros(q.INPUT_SHAPE), Path(path), dynamic_batch=True)


def onnxruntime_runner(path: str):
    return q.first_output(export.load_onnxruntime(Path(path), threads=1))


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float((a.argmax(1) == b.argmax(1)).mean())


def test_folding_batchnorm_keeps_the_function(trained):
    _, split = trained
    unfolded = q.small_mobilenet(16).eval()
    folded = q.fold_batchnorm(unfolded)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        assert torch.allclose(unfolded(split.x_test[:8]), folded(split.x_test[:8]), atol=1e-4)


def test_pt2e_int8_executorch_program_is_int8_and_close_to_float(trained, tmp_path):
    model, split = trained
    ptq = q.ptq_pt2e(model, split.x_train[:64])
    per_channel = [n for n in ptq.graph.nodes if "dequantize_per_channel" in str(n.target)]
    assert len(per_channel) == sum(isinstance(m, torch.nn.Conv2d | torch.nn.Linear) for m in model.modules())
    files, (_, run) = q.executorch_pair(model, ptq, 1, tmp_path)
    # fp32 weights alone would take 4 bytes each; int8 ones take 1, plus scales and the graph (this net is tiny).
    assert files[1].stat().st_size < 2 * sum(p.numel() for p in model.parameters())
    x = split.x_test[:50].numpy()
    int8 = np.concatenate([run(x[i : i + 1]) for i in range(len(x))])
    with torch.no_grad():
        fp32 = model(split.x_test[:50]).numpy()
    assert agreement(int8, fp32) >= 0.9
    assert np.abs(int8 - fp32).max() < 0.25 * np.abs(fp32).max()


def test_onnxruntime_qdq_model_stores_8_bit_weights_of_the_type_this_cpu_computes_and_matches_float(trained, tmp_path):
    model, split = trained
    fp32_path, int8_path = str(tmp_path / "fp32.onnx"), str(tmp_path / "int8.onnx")
    to_onnx(model, fp32_path)
    ort_static_int8(fp32_path, int8_path, split.x_train[:64])
    assert q.int8_weight_fraction(int8_path) == 1.0
    # uint8 weights where int8 ones would saturate ONNX Runtime's x86 kernels (no VNNI), int8 where they would not.
    types = {t.data_type for t in onnx.load(int8_path).graph.initializer if len(t.dims) >= 2}
    assert types == {onnx.TensorProto.INT8 if ort_weight_type() == "int8" else onnx.TensorProto.UINT8}
    ops = {node.op_type for node in onnx.load(int8_path).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert os.path.getsize(fp32_path) / os.path.getsize(int8_path) > 1.8  # tiny net: zero points and scales weigh
    fp32, int8 = onnxruntime_runner(fp32_path), onnxruntime_runner(int8_path)
    x = split.x_test[:50].numpy()
    a = np.concatenate([fp32(x[i : i + 1]) for i in range(len(x))])
    b = np.concatenate([int8(x[i : i + 1]) for i in range(len(x))])
    with torch.no_grad():
        assert np.allclose(a, model(split.x_test[:50]).numpy(), atol=1e-4)  # the fp32 export is faithful
    assert agreement(a, b) >= 0.9


def test_executorch_program_at_a_larger_batch_gives_the_batch_1_answers(trained, tmp_path):
    model, split = trained
    ptq = q.ptq_pt2e(model, split.x_train[:64])
    x = split.x_test[:8].numpy()
    _, (_, single) = q.executorch_pair(model, ptq, 1, tmp_path)
    _, (_, batched) = q.executorch_pair(model, ptq, 8, tmp_path)
    expected = np.concatenate([single(x[i : i + 1]) for i in range(8)])
    assert np.allclose(batched(x), expected, atol=1e-4)


def test_onnx_export_takes_any_batch_and_layer_times_cover_every_convolution(trained, tmp_path):
    model, split = trained
    fp32_path, int8_path = str(tmp_path / "fp32.onnx"), str(tmp_path / "int8.onnx")
    to_onnx(model, fp32_path)
    ort_static_int8(fp32_path, int8_path, split.x_train[:64])
    int8 = onnxruntime_runner(int8_path)
    x = split.x_test[: q.THROUGHPUT_BATCH].numpy()
    expected = np.concatenate([int8(x[i : i + 1]) for i in range(len(x))])
    assert np.allclose(int8(x), expected, atol=1e-4)

    rows = q.layer_times(model, fp32_path, int8_path, runs=5)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(rows) == len(convs) + 1
    assert [row["layer"].split()[0] for row in rows[:3]] == ["full", "depthwise", "pointwise"]
    assert all(row["fp32_us"] > 0 and row["int8_us"] > 0 for row in rows)


def test_litert_full_integer_file_is_int8_end_to_end_and_agrees_with_float(trained, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    model, split = trained
    files, (fp32, int8) = q.litert_pair(model, split.x_train[:64], 1, tmp_path)
    interpreter = Interpreter(model_path=str(files[1]))
    assert interpreter.get_input_details()[0]["dtype"] == np.int8  # full integer: no float at the edges
    assert files[0].stat().st_size / files[1].stat().st_size > 1.8
    x = split.x_test[:50].numpy()
    a = np.concatenate([fp32(x[i : i + 1]) for i in range(len(x))])
    b = np.concatenate([int8(x[i : i + 1]) for i in range(len(x))])
    with torch.no_grad():
        assert np.allclose(a, model(split.x_test[:50]).numpy(), atol=1e-4)
    assert agreement(a, b) >= 0.9


def test_the_record_names_every_runtime_and_no_best_of():
    results = {}
    for key in q.RUNTIMES:
        results |= {
            f"fp32_accuracy_{key}": 0.9,
            f"accuracy_{key}": 0.9,
            f"fp32_bytes_{key}": 4,
            f"int8_bytes_{key}": 1,
            f"size_ratio_{key}": 4.0,
            f"speedup_{key}": 1.0,
            f"speedup_batch{q.THROUGHPUT_BATCH}_{key}": 1.0,
        }
    rows = q.runtime_table(results)
    assert [row["runtime"].split()[0] for row in rows] == ["ExecuTorch", "ONNX", "LiteRT"]
