"""The BlazeFace port against the shipped face_detection_short_range.tflite (needs `python scripts/fetch_models.py`)."""

import numpy as np
import pytest
import torch

from reference_impls import _detection as det
from reference_impls import _shipped, _tflite
from reference_impls import blazeface_front as bf
from tests.conftest import SHIPPED

pytestmark = SHIPPED


@pytest.fixture(scope="module")
def model():
    return bf.blazeface_front()


@pytest.fixture(scope="module")
def original():
    return bf.runner("original")


def test_every_tensor_of_the_file_is_used_once_with_its_shape():
    weights = _tflite.Graph(_shipped.model_path(bf.FILE)).weights()
    assert {w.stored for w in weights} == {"FLOAT16"}  # the file ships fp16 weights behind DEQUANTIZE
    port = bf.blazeface_front(weights=False)
    pairs = _tflite.load(port, weights)
    assert len(pairs) == len(weights) == len(list(port.parameters())) == 74
    assert len({tensor for _, tensor in pairs}) == len(weights)
    assert pairs[0] == ("stem.weight", "conv2d/Kernel_dequantize")
    assert port.stem.weight.shape == (24, 3, 5, 5) and port.blocks[0].depthwise.weight.shape == (24, 1, 3, 3)
    with pytest.raises(ValueError, match="parameters in the port"):
        _tflite.load(port, weights[:-1])
    with pytest.raises(ValueError, match="has shape"):
        _tflite.load(port, weights[2:] + weights[:2])


def test_missing_model_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_MODEL_CACHE", str(tmp_path))
    with pytest.raises(_shipped.MissingModel, match=r"python scripts/fetch_models\.py"):
        _shipped.model_path(bf.FILE)


def test_anchors_are_896_and_decoding_matches_the_raw_outputs(original):
    centres = det.anchors(bf.OPTIONS)
    assert centres.shape == (896, 2)
    assert np.allclose(centres[0], [0.5 / 16, 0.5 / 16]) and np.allclose(centres[512], [0.5 / 8, 0.5 / 8])
    x, _ = det.letterbox(_shipped.photo("grace_hopper.jpg"), bf.SIZE)
    regressors, classificators = original(x)
    boxes, keypoints, scores = det.decode(regressors, classificators, bf.OPTIONS)
    best = int(scores.argmax())
    raw = regressors[0, best] / bf.SIZE
    assert np.allclose((boxes[best, :2] + boxes[best, 2:]) / 2, centres[best] + raw[:2], atol=1e-6)
    assert np.allclose(boxes[best, 2:] - boxes[best, :2], raw[2:4], atol=1e-6)
    assert np.allclose(keypoints[best], centres[best] + raw[4:].reshape(6, 2), atol=1e-6)
    # The best anchor sits on the face: the eyes are above the mouth, the box holds all six keypoints.
    assert scores[best] > 0.9 and keypoints[best, 0, 1] < keypoints[best, 3, 1]
    assert ((keypoints[best] >= boxes[best, :2] - 0.02) & (keypoints[best] <= boxes[best, 2:] + 0.02)).all()


def test_weighted_nms_blends_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 1, 1], [0.1, 0, 1.1, 1], [3, 3, 4, 4]], np.float32)
    keypoints = np.zeros((3, 6, 2), np.float32)
    found = det.weighted_nms(boxes, keypoints, np.array([0.9, 0.6, 0.7], np.float32), bf.OPTIONS)
    assert [d["score"] for d in found] == pytest.approx([0.9, 0.7])
    assert found[0]["box"][0] == pytest.approx(0.1 * 0.6 / 1.5)


@pytest.mark.parametrize("photo", ["astronaut.png", "grace_hopper.jpg", "camera.png", "coffee.png"])
def test_port_matches_the_original_on_photographs(model, original, photo):
    x, _ = det.letterbox(_shipped.photo(photo), bf.SIZE)
    theirs, ours = original(x), bf.runner("port", model)(x)
    assert max(float(np.abs(a - b).max()) for a, b in zip(theirs, ours, strict=True)) <= 1e-3
    reference, found = bf.detect(theirs), bf.detect(ours)
    assert len(found) == len(reference) == (0 if photo == "coffee.png" else 1)
    assert det.reproduced(reference, found) == len(reference)


def test_run_image_gives_pixel_coordinates_for_both_runtimes():
    path = _shipped.photo("astronaut.png")
    port, original = bf.run_image(path), bf.run_image(path, runtime="original")
    assert (port["width"], port["height"]) == (512, 512) and len(port["detections"]) == 1
    a, b = np.array(port["detections"][0]["box"]), np.array(original["detections"][0]["box"])
    assert np.abs(a - b).max() < 0.5  # pixels
    x0, y0, x1, y1 = a
    assert 100 < x0 < x1 < 400 and 20 < y0 < y1 < 300  # the astronaut's face, upper middle of the photograph
    with pytest.raises(ValueError, match="runtime"):
        bf.run_image(path, runtime="tpu")


def test_quick_experiment_reaches_the_targets():
    result = bf.run(quick=True)
    assert result["anchors"] == 896
    assert result["reference_max_abs_diff"] <= 1e-3
    assert result["reference_agreement"] >= 0.99 and result["reference_detections"] >= 10
    assert result["port"] == result["original"] and result["original"]["recall"] > 0.5
    assert result["int8_agreement"] >= 0.9
    assert result["latency"]["onnxruntime"]["export_max_abs_diff"] <= 1e-3
    assert result["latency_ratio_vs_reference"] > 0


def test_int8_pt2e_keeps_agreement(model, original):
    """The PT2E int8 graph that ExecuTorch lowers, run in PyTorch (lowering takes a minute; `run()` does it)."""
    from reference_impls._export import Named
    from reference_impls._pt2e import pt2e_int8

    _, inputs, _ = bf.evaluation_inputs(10, 10, seed=0)
    reference = [bf.detect(original(x[None])) for x in inputs]
    quantized = pt2e_int8(Named(model), bf.calibration_inputs(8, 0))
    with torch.no_grad():
        raw = [tuple(t.numpy() for t in quantized(torch.from_numpy(det.nchw(x[None])))) for x in inputs]
    assert bf.agreement(reference, raw)["agreement"] >= 0.9


def test_int8_litert_file_converts_and_keeps_agreement(model, original, tmp_path):
    """The full-integer `.tflite` of the port: its BlazeBlocks' shared input once stopped litert-torch's layout pass."""
    from reference_impls._export import Named, load_tflite, to_tflite

    calibration = bf.calibration_inputs(8, 0)
    path, fp32 = tmp_path / "port.int8.tflite", tmp_path / "port.tflite"
    to_tflite(Named(model).eval(), calibration[:1], path, calibration=calibration)
    to_tflite(Named(model).eval(), calibration[:1], fp32)
    run = load_tflite(path, 1)
    _, inputs, _ = bf.evaluation_inputs(10, 10, seed=0)
    reference = [bf.detect(original(x[None])) for x in inputs]
    raw = [tuple(run(det.nchw(x[None]))) for x in inputs]
    assert path.stat().st_size < 0.6 * fp32.stat().st_size  # int8 weights: well under the fp32 file's size
    assert bf.agreement(reference, raw)["agreement"] >= 0.9
