r"""ResNet-50 and ResNeXt-50 (32×4d): one bottleneck, two ways to spend its width.

*Aggregated Residual Transformations for Deep Neural Networks* (ResNeXt), Xie et al., 2017,
[arXiv:1611.05431](https://arxiv.org/abs/1611.05431); the baseline is *Deep Residual Learning for Image
Recognition* (ResNet), He et al., 2016, [arXiv:1512.03385](https://arxiv.org/abs/1512.03385).

## The idea

ResNet's bottleneck block reduces the channels with a 1×1 convolution, filters with a 3×3 convolution, and expands
back with a 1×1 convolution, adding the input (the residual connection). ResNeXt splits the 3×3 step into C parallel
paths of d channels each, the **cardinality** C, implemented as one grouped convolution with `groups=C`. At the same
cost as ResNet-50, ResNeXt-50 (32×4d: 32 paths of 4 channels in the first stage) has a wider 3×3 layer (128
channels instead of 64) and is more accurate (Table 3 of the ResNeXt paper).

Both networks here share `Bottleneck`; only `groups` and the width per group differ. The stride sits on the 3×3
convolution, as in the ResNeXt paper's Torch code (often called ResNet v1.5), which is also the configuration of
ResNeXt's Table 1.

## The key equation

A block's aggregated transformation (ResNeXt Eq. 3) is

$$y = x + \sum_{i=1}^{C} \mathcal{T}_i(x),$$

and a grouped 3×3 convolution of width w in C groups costs 9·w²/C MACs per pixel instead of 9·w².

## What our run measured

`kb bench impls --only resnet50` and `--only resnext50_32x4d` record parameters and MACs next to ResNeXt's Table 1, the
sizes and CPU latency; the comparison table of `kb bench` puts the two bottlenecks side by side. The tables below
are generated from those results files.
"""

from __future__ import annotations

from torch import Tensor, nn

from reference_impls._registry import NOT_TRAINED, Versus, register

# Blocks per stage of the 50-layer networks (ResNet's Table 1).
DEPTHS = (3, 4, 6, 3)
EXPANSION = 4  # a block's output has 4× the channels of its bottleneck in the plain ResNet


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (grouped when `groups` > 1) with the stride, 1×1 expand; plus a projected shortcut."""

    def __init__(self, c_in: int, width: int, c_out: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        self.transform = nn.Sequential(
            nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.expand = nn.Sequential(nn.Conv2d(width, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:  # project when the shape changes (ResNet's option B)
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """Residual sum of the transformed input and the (projected) input."""
        return self.relu(self.expand(self.transform(self.reduce(x))) + self.shortcut(x))


class ResNet(nn.Module):
    """Stem (7×7 convolution, max-pool), four stages of bottlenecks, global pool, classifier."""

    def __init__(self, groups: int = 1, width_per_group: int = 64, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
        )
        stages: list[nn.Module] = []
        c_in = 64
        for i, depth in enumerate(DEPTHS):
            planes = 64 * 2**i  # 64, 128, 256, 512: the plain ResNet's bottleneck widths
            width = planes * width_per_group // 64 * groups  # ResNeXt: C paths of d channels (32×4 = 128 at first)
            c_out = planes * EXPANSION
            for j in range(depth):
                stride = 2 if j == 0 and i > 0 else 1
                stages.append(Bottleneck(c_in, width, c_out, stride, groups))
                c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images."""
        return self.classifier(self.pool(self.stages(self.stem(x))).flatten(1))


RESNET_VS_PAPER = (
    Versus(
        "ImageNet test top-5 error",
        "",
        setting=NOT_TRAINED + "; the figure is an ensemble's",
    ),
    Versus(
        "ResNet-50 FLOPs",
        "macs",
        scale=1e-9,
        setting="multiply-adds counted by FlopCounterMode at 224×224",
        within=0.1,
    ),
)


@register("resnet50", arxiv="1512.03385", catalog_id="he2016deep", input_shape=(1, 3, 224, 224), versus=RESNET_VS_PAPER)
def resnet50(num_classes: int = 1000) -> nn.Module:
    """ResNet-50: cardinality 1, bottleneck widths 64 to 512."""
    return ResNet(groups=1, width_per_group=64, num_classes=num_classes).eval()


RESNEXT_VS_PAPER = (
    Versus(
        "ResNeXt-50 (32x4d) ImageNet",
        "",
        setting=NOT_TRAINED,
    ),
    Versus(
        "ResNeXt-50 (32x4d) parameters",
        "params",
        scale=1e-6,
        setting="parameters counted in our module",
        within=0.02,
    ),
    Versus(
        "ResNeXt-50 (32x4d) FLOPs",
        "macs",
        scale=1e-9,
        setting="multiply-adds counted by FlopCounterMode at 224×224",
        within=0.05,
    ),
)


@register(
    "resnext50_32x4d",
    arxiv="1611.05431",
    catalog_id="xie2017aggregated",
    input_shape=(1, 3, 224, 224),
    versus=RESNEXT_VS_PAPER,
)
def resnext50_32x4d(num_classes: int = 1000) -> nn.Module:
    """ResNeXt-50 (32×4d): cardinality 32, 4 channels per path in the first stage."""
    return ResNet(groups=32, width_per_group=4, num_classes=num_classes).eval()


if __name__ == "__main__":
    import torch

    from reference_impls._measure import count_macs, count_params

    x = torch.randn(1, 3, 224, 224)
    for name, build in (("resnet50", resnet50), ("resnext50_32x4d", resnext50_32x4d)):
        model = build()
        print(f"{name:>16}: {count_params(model) / 1e6:.2f} M params, {count_macs(model, x) / 1e9:.2f} G MACs")
    # The block itself: same input and output, the grouped 3×3 is twice as wide at about the same cost.
    y = torch.randn(1, 256, 56, 56)
    blocks = (("ResNet block", Bottleneck(256, 64, 256)), ("ResNeXt block", Bottleneck(256, 128, 256, 1, 32)))
    for name, block in blocks:
        print(f"{name:>16}: {count_params(block) / 1e3:.1f} k params, {count_macs(block, y) / 1e6:.0f} M MACs")
