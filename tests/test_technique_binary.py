import math

import numpy as np
import pytest
import torch

from reference_impls.binary import (
    BinaryConv2d,
    BinaryLeNet,
    BinaryLinear,
    SignSTE,
    pack_signs,
    packed_weights,
    run,
    xnor_popcount,
)


def test_xnor_popcount_equals_the_integer_dot_product():
    torch.manual_seed(0)
    a = torch.where(torch.randn(37, 131) >= 0, 1.0, -1.0)  # 131 bits: not a multiple of 64
    w = torch.where(torch.randn(9, 131) >= 0, 1.0, -1.0)
    assert np.array_equal(xnor_popcount(pack_signs(a), pack_signs(w), 131), (a @ w.T).long().numpy())


@pytest.mark.parametrize(
    "layer,shape",
    [(BinaryConv2d(20, 50, 5, xnor=True), (3, 20, 12, 12)), (BinaryLinear(800, 500, xnor=True), (7, 800))],
)
def test_packed_kernel_equals_float_reference_exactly(layer, shape):
    torch.manual_seed(0)
    x = torch.randn(shape)
    with torch.no_grad():
        reference = layer(x)
        layer.use_kernel = True
        assert torch.equal(layer(x), reference)


def test_sign_bits_are_32x_smaller_and_sizes_match_the_format():
    layer = BinaryConv2d(20, 50, 5, xnor=False)
    signs, scales = packed_weights(layer)
    assert len(signs) == math.ceil(layer.weight.numel() / 8)
    assert len(scales) == 4 * 50
    assert 4 * layer.weight.numel() / len(signs) == 32


def test_straight_through_estimator():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], requires_grad=True)
    y = SignSTE.apply(x)
    assert y.tolist() == [-1.0, -1.0, 1.0, 1.0, 1.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_binary_weight_layer_is_alpha_times_sign():
    torch.manual_seed(0)
    layer, x = BinaryLinear(30, 4, xnor=False), torch.randn(2, 30)
    expected = x @ (layer.weight.abs().mean(1, keepdim=True) * torch.sign(layer.weight)).T
    assert torch.allclose(layer(x), expected, atol=1e-6)


@pytest.mark.slow
def test_quick_run_kernel_is_exact_and_storage_shrinks():
    result = run(quick=True)
    assert result["kernel_exact"]
    assert result["kernel_accuracy"] == result["accuracy_before_writing"]
    assert result["sign_bits_ratio"] == 32
    assert 30 < result["storage_ratio"] < 32
    assert result["accuracy"] == result["accuracy_before_writing"]  # the packed file alone holds the model
    assert result["model_storage_ratio"] == result["model_fp32_file_bytes"] / result["model_packed_file_bytes"] > 5
    assert {p["model"] for p in result["curves"]["accuracy_vs_bits"]} == {"full precision", "BWN", "XNOR-Net"}
    assert BinaryLeNet("bwn")(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
