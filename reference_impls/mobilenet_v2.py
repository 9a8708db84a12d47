r"""MobileNetV2: inverted residuals and linear bottlenecks.

*MobileNetV2: Inverted Residuals and Linear Bottlenecks*, Sandler et al., 2018,
[arXiv:1801.04381](https://arxiv.org/abs/1801.04381).

## The idea

MobileNetV1 runs its depthwise filters on wide feature maps throughout. MobileNetV2 keeps the maps that flow between
blocks *narrow* (the bottleneck) and widens them only inside a block:

1. a 1×1 convolution **expands** the d input channels by a factor t (6 in the paper) and applies ReLU6;
2. a 3×3 **depthwise** convolution filters the wide map, again with ReLU6;
3. a 1×1 convolution **projects** back to a narrow map with *no* non-linearity: the linear bottleneck. A ReLU on a
   low-dimensional map destroys information that cannot be recovered (Section 3.2).

The residual connection joins the narrow ends ("inverted" relative to ResNet's wide-narrow-wide block) whenever the
stride is 1 and the channel counts agree.

## The key equation

A block of stride s on an h×w input with d' input and d'' output channels, expansion t and kernel k costs (Eq. 1)

$$h \cdot w \cdot d' \cdot t \,(d' + k^2 + d'')$$

multiply-accumulates (for stride 1; the depthwise and projection steps run on the h/s × w/s map otherwise).

## What our run measured

`kb bench impls --only mobilenet_v2` records parameters and MACs of the 1.0-224 network next to Table 4's figures, the
fp32 and exported sizes and CPU latency; the tables below are generated from that file.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from reference_impls._registry import NOT_TRAINED, Versus, register

# Table 2: expansion t, output channels c, repeats n, stride s of the first repeat.
STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of 8, never more than 10% below it (the released code's rule)."""
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


def conv_bn_relu6(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """Convolution, batch norm, ReLU6 (bounded for low-precision inference, Section 3.4)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Expand (1×1, ReLU6), filter (3×3 depthwise, ReLU6), project (1×1, linear); add the input when shapes agree.

    EfficientNet's MBConv is this block with swish, a k×k filter and squeeze-and-excite after it: `conv`, `kernel`
    and `squeeze` let it reuse the skeleton.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        expansion: int,
        *,
        kernel: int = 3,
        conv: Callable[..., nn.Module] = conv_bn_relu6,
        squeeze: nn.Module | None = None,
    ) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers: list[nn.Module] = [conv(c_in, hidden, 1)] if expansion != 1 else []
        layers += [conv(hidden, hidden, kernel, stride, groups=hidden), *([squeeze] if squeeze else [])]
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        """The block, plus the input on the narrow ends when the shapes allow."""
        return x + self.block(x) if self.residual else self.block(x)


class MobileNetV2(nn.Module):
    """Stem convolution, the 17 inverted-residual blocks of Table 2, a 1×1 convolution to 1280, pool, classifier."""

    def __init__(self, width: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        channels = make_divisible(32 * width)
        layers: list[nn.Module] = [conv_bn_relu6(3, channels, 3, stride=2)]
        for expansion, c, repeats, stride in STAGES:
            c_out = make_divisible(c * width)
            for i in range(repeats):
                layers.append(InvertedResidual(channels, c_out, stride if i == 0 else 1, expansion))
                channels = c_out
        # The last layer is not thinned below 1280 (Section 5.1): a narrow head costs accuracy for little saving.
        last = make_divisible(1280 * max(1.0, width))
        layers.append(conv_bn_relu6(channels, last, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images."""
        return self.classifier(self.pool(self.features(x)).flatten(1))


PAPER_VS_OURS = (
    Versus(
        "MobileNetV2 (1.0, 224) ImageNet",
        "",
        setting=NOT_TRAINED,
    ),
    Versus(
        "MobileNetV2 (1.0, 224) multiply-adds",
        "macs",
        scale=1e-6,
        setting="multiply-adds counted by FlopCounterMode at 224×224",
        within=0.02,
    ),
    Versus(
        "MobileNetV2 (1.0, 224) parameters",
        "params",
        scale=1e-6,
        setting="parameters counted in our module",
        within=0.02,
    ),
)


@register(
    "mobilenet_v2",
    arxiv="1801.04381",
    catalog_id="sandler2018mobilenetv2",
    input_shape=(1, 3, 224, 224),
    versus=PAPER_VS_OURS,
)
def mobilenet_v2(width: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """MobileNetV2 with width multiplier `width` (Table 6 uses 0.35 to 1.4)."""
    return MobileNetV2(width, num_classes).eval()


if __name__ == "__main__":
    import torch

    from reference_impls._measure import count_macs, count_params

    for width, size in ((1.0, 224), (1.4, 224), (0.75, 224), (0.5, 160), (0.35, 224)):
        model = mobilenet_v2(width)
        macs = count_macs(model, torch.randn(1, 3, size, size))
        print(f"width {width:<4} input {size}: {count_params(model) / 1e6:.2f} M params, {macs / 1e6:.0f} M MACs")
