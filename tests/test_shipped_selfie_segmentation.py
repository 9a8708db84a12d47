"""The selfie segmentation port against the shipped selfie_segmentation.tflite (needs `python scripts/fetch_models.py`)."""

import numpy as np
import pytest
import torch
from PIL import Image

from reference_impls import _shipped, _tflite
from reference_impls import selfie_segmentation as ss
from tests.conftest import SHIPPED

pytestmark = SHIPPED


@pytest.fixture(scope="module")
def model():
    return ss.selfie_segmentation()


@pytest.fixture(scope="module")
def original():
    return ss.runner("original")


def test_every_tensor_of_the_file_is_used_once_with_its_shape():
    weights = _tflite.Graph(_shipped.model_path(ss.FILE)).weights()
    port = ss.selfie_segmentation(weights=False)
    pairs = _tflite.load(port, weights)
    assert len(pairs) == len(weights) == len(list(port.parameters())) == 110
    assert len({tensor for _, tensor in pairs}) == len(weights)
    assert pairs[-2:] == [("mask.weight", "segment/Kernel_dequantize"), ("mask.bias", "segment/Bias_dequantize")]
    assert port.mask.weight.shape == (16, 1, 2, 2)  # the custom transposed convolution, OHWI -> IOHW
    assert port.blocks[3].depthwise.weight.shape == (96, 1, 5, 5)


@pytest.mark.parametrize("photo", ["astronaut.png", "grace_hopper.jpg", "camera.png", "coffee.png"])
def test_port_matches_the_original_on_photographs(model, original, photo):
    x, _ = ss.preprocess(_shipped.photo(photo))
    theirs, ours = original(x), ss.runner("port", model)(x)
    assert theirs.shape == ours.shape == (1, 256, 256)
    assert float(np.abs(theirs - ours).max()) <= 1e-3
    assert ss.mask_iou(theirs, ours) >= 0.99


def test_run_image_writes_the_mask_at_the_photographs_size(tmp_path):
    path = _shipped.photo("grace_hopper.jpg")
    port = ss.run_image(path, out=tmp_path / "port.png")
    original = ss.run_image(path, runtime="original", out=tmp_path / "original.png")
    mask = np.asarray(Image.open(port["mask"]))
    assert mask.shape == (port["height"], port["width"]) == (600, 512)
    assert 0.3 < port["foreground_fraction"] < 0.9
    assert abs(port["foreground_fraction"] - original["foreground_fraction"]) < 1e-3
    assert mask[50, 256] > 128 and mask[590, 5] < 128  # her face is foreground, the bottom-left corner is not


def test_int8_pt2e_keeps_the_person_masks(model, original):
    """PT2E int8 (the graph ExecuTorch lowers), calibrated on face-set composites, never on these photographs."""
    from reference_impls._export import Named
    from reference_impls._pt2e import pt2e_int8

    quantized = pt2e_int8(Named(model), ss.calibration_inputs(16, 0))
    ious = []
    for photo in ss.PHOTOS[: ss.PEOPLE]:
        x, _ = ss.preprocess(_shipped.photo(photo))
        with torch.no_grad():
            int8 = quantized(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))[:, 0].numpy()
        ious.append(ss.mask_iou(original(x), int8))
    assert np.mean(ious) >= 0.85, ious


def test_quick_experiment_reaches_the_parity_targets():
    result = ss.run(quick=True)
    assert result["reference_max_abs_diff"] <= 1e-3 and result["reference_agreement"] >= 0.99
    assert result["latency"]["onnxruntime"]["export_max_abs_diff"] <= 1e-3
    assert result["latency_ratio_vs_reference"] > 0 and 0 <= result["int8_agreement"] <= 1
