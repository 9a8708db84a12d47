r"""MobileNetV1: a network of depthwise-separable convolutions, with width and resolution multipliers.

*MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications*, Howard et al., 2017,
[arXiv:1704.04861](https://arxiv.org/abs/1704.04861).

## The idea

Replace every standard convolution after the first by a depthwise-separable one (see `separable_conv`): a 3×3
depthwise filter per channel, then a 1×1 pointwise convolution that mixes channels. The body of Table 1 is 13 such
layers, doubling channels as the map halves; 95% of the MACs then sit in 1×1 convolutions, which map onto fast
matrix multiplication. Two hyper-parameters trade accuracy for cost:

- the **width multiplier** α thins every layer to αM inputs and αN outputs;
- the **resolution multiplier** ρ shrinks the input image (224, 192, 160 or 128 pixels).

## The key equation

One separable layer with both multipliers costs (Eq. 7)

$$D_K \cdot D_K \cdot \alpha M \cdot \rho D_F \cdot \rho D_F
  + \alpha M \cdot \alpha N \cdot \rho D_F \cdot \rho D_F,$$

so MACs fall roughly with α² and ρ², parameters with α² alone.

## What our run measured

`kb bench impls --only mobilenet_v1` records the parameter and MAC counts of the 1.0-224 configuration next to Table
8's, the fp32 size on disk, and CPU latency in eager PyTorch and each exported runtime. The tables below are generated
from that results file.
"""

from __future__ import annotations

from torch import Tensor, nn

from reference_impls._registry import NOT_TRAINED, Versus, register
from reference_impls.separable import DepthwiseSeparableConv, conv_bn

# Table 1, after the first full convolution (3 → 32, stride 2): (output channels, stride) of each separable layer.
BODY = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]


def thin(channels: int, width: float) -> int:
    """Apply the width multiplier as the released TF-Slim code does: truncate, but keep at least 8 channels."""
    return max(int(channels * width), 8)


class MobileNetV1(nn.Module):
    """Full 3×3 convolution, 13 depthwise-separable layers, global average pool, one linear classifier."""

    def __init__(self, width: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        channels = thin(32, width)
        layers: list[nn.Module] = [conv_bn(3, channels, 3, stride=2)]
        for c_out, stride in BODY:
            layers.append(DepthwiseSeparableConv(channels, thin(c_out, width), 3, stride))
            channels = thin(c_out, width)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # any resolution multiplier ends in one global pool
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images."""
        return self.classifier(self.pool(self.features(x)).flatten(1))


PAPER_VS_OURS = (
    Versus(
        "1.0 MobileNet-224 ImageNet",
        "",
        setting=NOT_TRAINED,
    ),
    Versus(
        "1.0 MobileNet-224 multiply-adds",
        "macs",
        scale=1e-6,
        setting="multiply-adds counted by FlopCounterMode at 224×224",
        within=0.02,
    ),
    Versus(
        "1.0 MobileNet-224 parameters",
        "params",
        scale=1e-6,
        setting="parameters counted in our module",
        within=0.02,
    ),
)


@register(
    "mobilenet_v1",
    arxiv="1704.04861",
    catalog_id="howard2017mobilenets",
    input_shape=(1, 3, 224, 224),
    versus=PAPER_VS_OURS,
)
def mobilenet_v1(width: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """MobileNetV1 with width multiplier `width` (1.0, 0.75, 0.5, 0.25 in the paper); pick ρ by the input size."""
    return MobileNetV1(width, num_classes).eval()


if __name__ == "__main__":
    import torch

    from reference_impls._measure import count_macs, count_params

    # Tables 6 and 7: the cost surface spanned by the two multipliers.
    print(f"{'width':>6} {'input':>6} {'params (M)':>11} {'MACs (M)':>9}")
    for width in (1.0, 0.75, 0.5, 0.25):
        for size in (224, 192, 160, 128):
            model = mobilenet_v1(width)
            macs = count_macs(model, torch.randn(1, 3, size, size))
            print(f"{width:>6} {size:>6} {count_params(model) / 1e6:>11.2f} {macs / 1e6:>9.0f}")
