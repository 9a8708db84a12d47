"""Exports: every format is written, runs back where a runtime exists on Linux, and matches eager PyTorch.

Exports are slow (seconds each, mostly import and lowering time), so a small separable layer at 8x8 goes through
every format once, and BlazeFace (two outputs) through ONNX.
"""

from __future__ import annotations

import pytest
import torch

from reference_impls._export import FORMATS, LITERT_VENV, export_all, make_input_dependent
from reference_impls._measure import threads
from reference_impls.blazeface import blazeface
from reference_impls.separable import separable_conv


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these tests measure counts, not speed, and CI's two cores are shared."""
    with threads(1):
        yield


TOLERANCE = 1e-4

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    torch.manual_seed(0)
    model = make_input_dependent(separable_conv(channels=16), (1, 16, 8, 8))
    x, *more = [torch.randn(1, 16, 8, 8) for _ in range(4)]
    out = tmp_path_factory.mktemp("exports")
    return {r["format"]: r for r in export_all(model, x, out, FORMATS, tolerance=TOLERANCE, more_inputs=more)}


@pytest.mark.parametrize("fmt", ["pte", "onnx", "ort"])
def test_format_runs_back_with_parity(records, fmt):
    record = records[fmt]
    assert record["ok"], record["note"]
    assert record["size_bytes"] > 16 * 16 * 4  # at least the pointwise weights in fp32
    assert record["max_abs_diff"] <= TOLERANCE
    assert record["output_spread"] >= 1e-2 and record["relative_diff"] <= 1e-3  # a parity that could have failed


def test_pte_is_fully_delegated_to_xnnpack(records):
    assert records["pte"]["delegated_nodes"] > 0
    assert records["pte"]["non_delegated_nodes"] == 0


def test_tflite_runs_back_with_parity_or_says_why(records):
    record = records["tflite"]
    if not (LITERT_VENV / "complete").exists():
        assert not record["ok"] and record["note"].startswith("unavailable:")
        pytest.skip(record["note"])
    assert record["ok"], record["note"]
    assert record["max_abs_diff"] <= TOLERANCE


def test_coreml_spec_is_validated(records):
    record = records["coreml"]
    assert record["ok"], record["note"]
    assert record["inputs"] == {"x": [1, 16, 8, 8]} and len(record["outputs"]) == 1
    assert record["coreml_ops"] >= 2  # at least the two convolutions
    assert record["max_abs_diff"] is None  # no prediction off macOS: nothing is claimed
    assert record["note"] == "converted, not run (needs macOS); its spec was checked"


def test_two_output_detector_exports_to_onnx_with_parity(tmp_path):
    (record,) = export_all(blazeface(), torch.randn(1, 3, 32, 32), tmp_path, ["onnx"], tolerance=TOLERANCE)
    assert record["ok"], record["note"]


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown formats"):
        export_all(separable_conv(channels=4), torch.randn(1, 4, 4, 4), tmp_path, ["tflite", "caffe"])


def test_onnx_export_writes_prelu_as_relus_and_lists_a_kept_modules_nodes(tmp_path):
    """`PRelu` becomes Relu/Neg/Relu/Mul/Sub with the same outputs; `keep` names the nodes of that module."""
    import numpy as np
    import onnx

    from reference_impls._export import load_onnxruntime, to_onnx

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.PReLU(4), torch.nn.Conv2d(4, 2, 1)).eval()
    with torch.no_grad():
        model[1].weight.uniform_(0.1, 0.9)
    x = torch.randn(1, 3, 8, 8)
    record = to_onnx(torch.nn.Sequential(model).eval(), x, tmp_path / "m.onnx", keep=("0.1",))
    ops = [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    assert "PRelu" not in ops and ops.count("Relu") == 2 and "Neg" in ops
    assert len(record["float_nodes"]) == 5  # the rewrite's five nodes, all in the PReLU's module
    ours = load_onnxruntime(tmp_path / "m.onnx", 1)(x.numpy())[0]
    with torch.no_grad():
        assert np.abs(ours - model(x).numpy()).max() < 1e-5
