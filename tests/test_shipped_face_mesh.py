"""The face mesh port against the shipped face_landmark.tflite (needs `python scripts/fetch_models.py`)."""

import numpy as np
import pytest
import torch
from PIL import Image

from reference_impls import _shipped, _tflite, blazeface_front
from reference_impls import face_mesh as fm
from tests.conftest import SHIPPED

pytestmark = SHIPPED


@pytest.fixture(scope="module")
def model():
    return fm.face_mesh()


@pytest.fixture(scope="module")
def original():
    return fm.runner("original")


def face_crop(photo):
    image = Image.open(_shipped.photo(photo)).convert("RGB")
    box = max(blazeface_front.detect_faces(image), key=lambda d: d["score"])["box"]
    return fm.crop(image, box)[0]


def test_every_tensor_is_used_once_with_the_heads_one_after_the_other():
    graph = _tflite.Graph(_shipped.model_path(fm.FILE))
    port = fm.face_mesh(weights=False)
    pairs = _tflite.load(port, graph.weights(per_output=True))
    assert len(pairs) == len(graph.weights()) == len(list(port.parameters())) == 113
    assert len({tensor for _, tensor in pairs}) == len(pairs)
    assert ("mesh.out.weight", "conv2d_21/Kernel_dequantize") in pairs
    assert ("face.out.weight", "conv2d_31/Kernel_dequantize") in pairs
    assert port.mesh.out.weight.shape == (1404, 32, 3, 3) and port.stem_act.weight.shape == (16,)
    with pytest.raises(ValueError):  # in plain execution order the two heads interleave: shapes do not line up
        _tflite.load(fm.face_mesh(weights=False), graph.weights())


@pytest.mark.parametrize("photo", ["astronaut.png", "grace_hopper.jpg", "camera.png"])
def test_port_matches_the_original_on_face_crops(model, original, photo):
    x = face_crop(photo)
    theirs, ours = original(x), fm.runner("port", model)(x)
    assert theirs[0].shape == ours[0].shape == (1, 1404) and ours[1].shape == (1, 1)
    assert max(float(np.abs(a - b).max()) for a, b in zip(theirs, ours, strict=True)) <= 1e-3
    assert fm.agreement(fm.landmarks(theirs), fm.landmarks(ours)) >= 0.99
    assert theirs[1].item() > 0  # a face is present: positive logit


def test_run_image_puts_the_eyes_inside_the_face_box():
    path = _shipped.photo("astronaut.png")
    result, original = fm.run_image(path), fm.run_image(path, runtime="original")
    points = np.array(result["landmarks"])
    assert points.shape == (468, 3) and result["face_score"] > 0.9
    assert np.abs(points - np.array(original["landmarks"])).max() < 0.5  # pixels
    box = blazeface_front.run_image(path)["detections"][0]["box"]
    for eye in fm.EYES:
        assert box[0] < points[eye, 0] < box[2] and box[1] < points[eye, 1] < box[3]


def test_int8_pt2e_keeps_the_landmarks(model, original):
    """PT2E int8 (the graph ExecuTorch lowers), calibrated on composites that use other LFW faces."""
    from reference_impls._export import Named
    from reference_impls._pt2e import pt2e_int8

    calibration = fm.face_crops(8, 0, calibration=True)[1]
    quantized = pt2e_int8(Named(model), torch.from_numpy(np.ascontiguousarray(calibration.transpose(0, 3, 1, 2))))
    scores = []
    for photo in fm.PHOTOS:
        x = face_crop(photo)
        with torch.no_grad():
            int8 = quantized(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
        scores.append(fm.agreement(fm.landmarks(original(x)), int8[0].numpy().reshape(468, 3)))
    assert min(scores) >= 0.9, scores


def test_second_task_costs_little_on_top_of_the_first(model):
    macs = fm.macs_by_part(model)
    assert macs["trunk"] > macs["mesh_head"] > macs["face_head"] > 0
    assert macs["face_head"] / (macs["trunk"] + macs["mesh_head"]) < 0.05


def test_quick_experiment_reaches_the_targets():
    result = fm.run(quick=True)
    assert result["reference_max_abs_diff"] <= 1e-3 and result["reference_agreement"] >= 0.99
    assert result["int8_agreement"] >= 0.9
    assert result["latency"]["onnxruntime"]["export_max_abs_diff"] <= 1e-3
