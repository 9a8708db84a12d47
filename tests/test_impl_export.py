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


class _PaddedShortcut(torch.nn.Module):
    """BlazeFace's pattern: conv, plus the input zero-padded on the channel axis, then PReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.act = torch.nn.Conv2d(3, 5, 3, padding=1), torch.nn.PReLU(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = torch.nn.functional.pad(x, (0, 0, 0, 0, 0, 2))  # 3 -> 5 channels
        return torch.nn.functional.pad(self.act(self.conv(x) + shortcut), (1, 0, 0, 1))  # a spatial pad stays


def test_onnx_export_writes_prelu_and_channel_pads_as_convolutions_and_lists_a_kept_modules_nodes(tmp_path):
    """`PRelu` and the channel `Pad` become 1×1 convolutions with the same outputs; `keep` names the PReLU's nodes."""
    import numpy as np
    import onnx

    from reference_impls._export import load_onnxruntime, to_onnx

    torch.manual_seed(0)
    model = _PaddedShortcut().eval()
    with torch.no_grad():
        model.act.weight.copy_(torch.tensor([-0.7, 0.0, 0.3, 1.0, 1.4]))  # slopes of every sign, and above 1
    x = torch.randn(1, 3, 8, 8)
    both = ("PRelu", "Pad")
    record = to_onnx(torch.nn.Sequential(model).eval(), x, tmp_path / "m.onnx", keep=("0.act",), as_convolutions=both)
    ops = [n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node]
    assert "PRelu" not in ops and ops.count("Pad") == 1 and ops.count("Conv") == 4 and ops.count("Relu") == 2
    assert len(record["float_nodes"]) == 5  # the rewrite's five nodes, all in the PReLU's module
    to_onnx(model, x, tmp_path / "default.onnx")  # PRelu only
    default = [n.op_type for n in onnx.load(str(tmp_path / "default.onnx")).graph.node]
    assert "PRelu" not in default and default.count("Pad") == 2 and default.count("Conv") == 3
    to_onnx(model, x, tmp_path / "native.onnx", as_convolutions=())
    native = [n.op_type for n in onnx.load(str(tmp_path / "native.onnx")).graph.node]
    assert native.count("PRelu") == 1 and native.count("Pad") == 2 and native.count("Conv") == 1
    with torch.no_grad():
        expected = model(x).numpy()
    for path in ("m.onnx", "default.onnx", "native.onnx"):
        assert np.abs(load_onnxruntime(tmp_path / path, 1)(x.numpy())[0] - expected).max() < 1e-5
    with pytest.raises(ValueError, match="takes PRelu and Pad"):
        to_onnx(model, x, tmp_path / "bad.onnx", as_convolutions=("Conv",))
