r"""EfficientNet B0–B3: MBConv with squeeze-and-excitation, scaled by one compound coefficient.

*EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks*, Tan and Le, 2019,
[arXiv:1905.11946](https://arxiv.org/abs/1905.11946).

## The idea

B0 is a network found by architecture search (like MnasNet): seven stages of **MBConv** blocks, MobileNetV2's
inverted residual with a squeeze-and-excitation (SE) step after the depthwise convolution and the swish
activation. Bigger networks are not searched again: B1–B7 scale B0's *depth* (blocks per stage), *width* (channels)
and *resolution* (input size) together, because each helps only while the others keep pace (Figure 3).

Every variant here is built from B0's stage table (`STAGES`, the paper's Table 1) by its coefficients; no per-variant
widths are typed. Channels are rounded to a multiple of 8, never more than 10% below the scaled value, and repeats are
rounded up.

## The key equation

Compound scaling (Eq. 3): with a user-chosen φ,

$$d = \alpha^\phi,\; w = \beta^\phi,\; r = \gamma^\phi \quad \text{s.t.}\quad
\alpha \beta^2 \gamma^2 \approx 2,$$

and the grid search on B0 gave α = 1.2, β = 1.1, γ = 1.15, so each step of φ doubles the FLOPs. The released
B1–B3 do not use these powers literally: their (width, depth, resolution) coefficients, which reproduce Table 2,
are in `VARIANTS`; `compound(φ)` prints the rule's values beside them.

## What our run measured

`kb bench impls --only efficientnet_b0` (and b1..b3) record parameters and MACs next to Table 2's, sizes and CPU
latency; the tables below are generated from those results files.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from reference_impls._registry import NOT_TRAINED, Builder, Versus, register
from reference_impls.mobilenet_v2 import InvertedResidual

# Table 1 (B0): expansion, kernel, stride, output channels, repeats of each MBConv stage.
STAGES = [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]
STEM, HEAD = 32, 1280
# The released coefficients: (width, depth, resolution, dropout) of each variant.
VARIANTS = {
    "b0": (1.0, 1.0, 224, 0.2),
    "b1": (1.0, 1.1, 240, 0.2),
    "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3),
}
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # Section 3.3's grid search on B0


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Scale channels by `width`, round to a multiple of 8, and never drop more than 10% below the scaled value."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def round_repeats(repeats: int, depth: float) -> int:
    """Scale a stage's block count by `depth`, rounding up."""
    return math.ceil(depth * repeats)


def compound(phi: float) -> dict[str, float]:
    """The literal compound-scaling rule d = α^φ, w = β^φ, r = 224·γ^φ."""
    return {"depth": ALPHA**phi, "width": BETA**phi, "resolution": 224 * GAMMA**phi}


class SqueezeExcite(nn.Module):
    """Pool to one value per channel, squeeze to a quarter of the block's input width, and re-weight channels."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, squeezed, 1),
            nn.SiLU(),
            nn.Conv2d(squeezed, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Scale each channel by a learned function of all channels' means."""
        return x * self.gate(x)


def conv_bn_swish(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Convolution, batch norm, swish (SiLU)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.SiLU(inplace=True),
    )


def mbconv(c_in: int, c_out: int, expansion: int, kernel: int, stride: int) -> nn.Module:
    """MBConv: MobileNetV2's inverted residual with swish, a k×k depthwise filter and squeeze-and-excite.

    Stochastic depth, which the paper uses in training, is left out: it changes no weight and no inference cost.
    """
    squeeze = SqueezeExcite(c_in * expansion, max(1, c_in // 4))  # SE ratio 0.25 of the block's *input* channels
    return InvertedResidual(c_in, c_out, stride, expansion, kernel=kernel, conv=conv_bn_swish, squeeze=squeeze)


class EfficientNet(nn.Module):
    """Stem, the seven scaled MBConv stages, a 1×1 head convolution, pool, dropout, classifier."""

    def __init__(self, width: float, depth: float, dropout: float, num_classes: int = 1000) -> None:
        super().__init__()
        channels = round_filters(STEM, width)
        layers: list[nn.Module] = [conv_bn_swish(3, channels, 3, stride=2)]
        for expansion, kernel, stride, c, repeats in STAGES:
            c_out = round_filters(c, width)
            for i in range(round_repeats(repeats, depth)):
                layers.append(mbconv(channels, c_out, expansion, kernel, stride if i == 0 else 1))
                channels = c_out
        head = round_filters(HEAD, width)
        layers.append(conv_bn_swish(channels, head, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images."""
        return self.classifier(self.pool(self.features(x)).flatten(1))


def efficientnet(variant: str = "b0", num_classes: int = 1000) -> nn.Module:
    """EfficientNet-`variant` built from B0's table by the variant's width and depth coefficients."""
    width, depth, _, dropout = VARIANTS[variant]
    return EfficientNet(width, depth, dropout, num_classes).eval()


def _builder(variant: str) -> Builder:
    resolution = VARIANTS[variant][2]

    def build(num_classes: int = 1000) -> nn.Module:
        return efficientnet(variant, num_classes)

    build.__doc__ = f"EfficientNet-{variant.upper()} at its {resolution}×{resolution} input."
    build.__module__ = __name__
    return build


B0_VS_PAPER = (
    Versus("EfficientNet-B0 ImageNet", "", setting=NOT_TRAINED),
    Versus(
        "EfficientNet-B0 parameters",
        "params",
        scale=1e-6,
        setting="parameters counted in our B0",
        within=0.02,
    ),
    Versus(
        "EfficientNet-B0 FLOPs",
        "macs",
        scale=1e-9,
        setting="multiply-adds counted by FlopCounterMode at 224×224",
        within=0.05,
    ),
    Versus("EfficientNet-B7", "", setting="B7 is not built here (B0 to B3 are)"),
)

# One line per variant, each id written out: `kb validate` reads the registered ids from the source without torch.
_PAPER = {"arxiv": "1905.11946", "catalog_id": "tan2019efficientnet"}
register("efficientnet_b0", **_PAPER, input_shape=(1, 3, 224, 224), versus=B0_VS_PAPER)(_builder("b0"))
register("efficientnet_b1", **_PAPER, input_shape=(1, 3, 240, 240))(_builder("b1"))
register("efficientnet_b2", **_PAPER, input_shape=(1, 3, 260, 260))(_builder("b2"))
register("efficientnet_b3", **_PAPER, input_shape=(1, 3, 300, 300))(_builder("b3"))


if __name__ == "__main__":
    import torch

    from reference_impls._measure import count_macs, count_params

    print(f"{'':>4} {'released w, d, r':>18} {'rule w, d, r':>20} {'params (M)':>11} {'MACs (B)':>9}")
    for phi, (name, (width, depth, resolution, _)) in enumerate(VARIANTS.items()):
        rule = compound(phi)
        model = efficientnet(name)
        macs = count_macs(model, torch.randn(1, 3, resolution, resolution))
        print(
            f"{name:>4} {width:>5.2f} {depth:>5.2f} {resolution:>5} {rule['width']:>6.2f} {rule['depth']:>5.2f} "
            f"{rule['resolution']:>6.0f} {count_params(model) / 1e6:>11.2f} {macs / 1e9:>9.2f}"
        )
