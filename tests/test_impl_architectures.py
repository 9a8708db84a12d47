"""The efficient architectures: every registered model builds and runs, and the ImageNet ones count like the papers.

Paper figures are cited next to each expected value. Counts are parameters (weights, biases, batch-norm scales and
shifts) and multiply-accumulates of convolutions and linear layers, as the papers count them.
"""

from __future__ import annotations

from functools import cache

import pytest
import torch
from torch import nn

from reference_impls import blazeface as bf
from reference_impls._measure import count_macs, count_params, threads
from reference_impls._registry import all_impls, get
from reference_impls.efficientnet import round_filters, round_repeats
from reference_impls.mobilenet_v1 import mobilenet_v1
from reference_impls.separable import cost_ratio, separable_conv


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these tests measure counts, not speed, and CI's two cores are shared."""
    with threads(1):
        yield


OURS = [
    "separable_conv",
    "mobilenet_v1",
    "mobilenet_v2",
    "blazeface",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "xception",
    "resnet50",
    "resnext50_32x4d",
]
HEAVY = {"resnet50", "resnext50_32x4d", "xception", "efficientnet_b3", "efficientnet_b2"}  # > 3 s to build and count


@cache
def built(impl_id: str) -> nn.Module:
    """Each model once per session: the tests only read them (eval mode, no gradients)."""
    return get(impl_id).build()


def small_input(shape: tuple[int, ...], cap: int = 64) -> torch.Tensor:
    """The default input with spatial sides capped, so that every model runs fast."""
    return torch.randn(*shape[:-2], *(min(side, cap) for side in shape[-2:]))


@pytest.mark.parametrize(
    "impl_id", [pytest.param(i, marks=[pytest.mark.slow] if i in HEAVY else [], id=i) for i in OURS]
)
def test_every_architecture_builds_runs_and_counts(impl_id):
    spec, model = get(impl_id), built(impl_id)
    x = small_input(spec.input_shape)
    with torch.no_grad():
        out = model(x)
    first = out[0] if isinstance(out, tuple) else out
    assert first.shape[0] == x.shape[0] and torch.isfinite(first).all()
    assert count_params(model) > 0 and count_macs(model, x) > 0


def test_all_architecture_ids_are_registered():
    assert set(OURS) <= {spec.id for spec in all_impls()}
    assert get("blazeface").task == "detection" and get("xception").input_shape == (1, 3, 299, 299)


# (id, params, MACs, tolerance, source). MACs None where the paper's table gives none.
PAPER = [
    # MobileNets, Table 8: 1.0 MobileNet-224, 569 M mult-adds, 4.2 M parameters.
    ("mobilenet_v1", 4.2e6, 569e6, "Howard et al. 2017, Table 8"),
    # MobileNetV2 Table 4 gives 3.4 M params and 300 M MACs; its released-checkpoint table (tensorflow/models
    # research/slim/nets/mobilenet README, same authors) gives 3.47 M. 3.4 M is that figure truncated and our
    # 3.50 M is 3% above it, so parameters are checked against 3.47 M and MACs against the paper's 300 M.
    ("mobilenet_v2", 3.47e6, 300e6, "Sandler et al. 2018, Table 4 (params: released-checkpoint table)"),
    # ResNeXt, Table 1: ResNet-50 25.5 M params, 4.1 G FLOPs (multiply-adds); ResNeXt-50 (32x4d) 25.0 M, 4.2 G.
    ("resnet50", 25.5e6, 4.1e9, "Xie et al. 2017, Table 1"),
    ("resnext50_32x4d", 25.0e6, 4.2e9, "Xie et al. 2017, Table 1"),
    # Xception, Table 3: 22,855,952 parameters (no FLOP count in the paper).
    ("xception", 22_855_952, None, "Chollet 2017, Table 3"),
    # EfficientNet, Table 2: B0 5.3 M / 0.39 B FLOPs, B1 7.8 M / 0.70 B, B2 9.2 M / 1.0 B, B3 12 M / 1.8 B.
    ("efficientnet_b0", 5.3e6, 0.39e9, "Tan and Le 2019, Table 2"),
    ("efficientnet_b1", 7.8e6, 0.70e9, "Tan and Le 2019, Table 2"),
    ("efficientnet_b2", 9.2e6, 1.0e9, "Tan and Le 2019, Table 2"),
    ("efficientnet_b3", 12e6, 1.8e9, "Tan and Le 2019, Table 2"),
]


@pytest.mark.parametrize(
    ("impl_id", "params", "macs", "source"),
    [pytest.param(*row, marks=[pytest.mark.slow] if row[0] in HEAVY else [], id=row[0]) for row in PAPER],
)
def test_imagenet_configuration_matches_the_paper_within_2_percent(impl_id, params, macs, source):
    spec, model = get(impl_id), built(impl_id)
    assert count_params(model) == pytest.approx(params, rel=0.02), source
    if macs is not None:
        assert count_macs(model, torch.randn(spec.input_shape)) == pytest.approx(macs, rel=0.02), source


def test_xception_parameter_count_is_exact():
    assert count_params(built("xception")) == 22_855_952  # Chollet 2017, Table 3


@pytest.mark.parametrize(
    ("width", "size", "params", "macs"),
    [
        (0.75, 224, 2.6, 325e6),
        (0.5, 224, 1.3, 149e6),  # MobileNets Table 6 (width multiplier)
        (1.0, 192, 4.2, 418e6),
        (1.0, 160, 4.2, 290e6),
        (1.0, 128, 4.2, 186e6),
    ],  # Table 7 (resolution)
)
def test_mobilenet_v1_multipliers_match_tables_6_and_7(width, size, params, macs):
    model = mobilenet_v1(width)
    # The tables print millions of parameters to one decimal: 0.5 MobileNet's 1.33 M is "1.3" there (2.4% off the
    # printed figure), so parameters are compared at the tables' precision and MACs within 2%.
    assert round(count_params(model) / 1e6, 1) == params
    assert count_macs(model, torch.randn(1, 3, size, size)) == pytest.approx(macs, rel=0.02)


def test_separable_cost_ratio_equals_counted_ratio():
    x = torch.randn(1, 64, 8, 8)
    ratio = count_macs(separable_conv(True, 64, 3), x) / count_macs(separable_conv(False, 64, 3), x)
    assert ratio == pytest.approx(cost_ratio(64, 3))  # MobileNets Eq. 5: 1/N + 1/Dk^2
    assert cost_ratio(512, 3) == pytest.approx(1 / 512 + 1 / 9)


def test_efficientnet_scaling_rules_reproduce_the_released_widths():
    # The released B2 and B3 stems and heads (32/1408 and 40/1536) follow from B0's 32 and 1280.
    assert [round_filters(32, 1.1), round_filters(1280, 1.1)] == [32, 1408]
    assert [round_filters(32, 1.2), round_filters(1280, 1.2)] == [40, 1536]
    assert round_filters(16, 0.1) == 8  # never below the divisor
    assert [round_repeats(n, 1.4) for n in (1, 2, 3, 4)] == [2, 3, 5, 6]


def test_blazeface_heads_predict_the_papers_896_anchors():
    scores, boxes = bf.blazeface()(torch.randn(2, 3, 128, 128))
    assert scores.shape == (2, 896) and boxes.shape == (2, 896, 4)  # 16x16x2 + 8x8x6 (Figure 2)
