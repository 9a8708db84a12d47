"""Xception: Inception taken to the extreme, with depthwise-separable convolutions throughout.

*Xception: Deep Learning with Depthwise Separable Convolutions*, Chollet, 2017,
[arXiv:1610.02357](https://arxiv.org/abs/1610.02357).

## The idea

An Inception module maps cross-channel correlations (1×1 convolutions) and spatial correlations (3×3 convolutions
on a few channel groups) separately. Taking the number of groups to the extreme, one per channel, gives a
depthwise-separable convolution. Xception is a linear stack of 36 such layers with residual connections, in three
flows (Figure 5):

- the **entry flow**: two full convolutions, then three blocks that halve the map and widen to 128, 256 and 728
  channels, each with a strided 1×1 convolution on the shortcut;
- the **middle flow**: eight identical residual blocks of three ReLU–separable-conv–BN layers at 19×19×728;
- the **exit flow**: one more downsampling block to 1024 channels, two separable convolutions to 1536 and 2048,
  global average pooling and the classifier.

Unlike MobileNet, Xception puts no non-linearity between the depthwise and the pointwise step (Figure 10 shows it
trains better without).

## The key equation

A separable convolution with M inputs, N outputs and a 3×3 kernel has 9M + MN weights instead of 9MN.

## What our run measured

`kb bench impls --only xception` records parameters next to Table 3's and the MACs at 299×299, sizes and CPU latency;
the tables below are generated from that results file.
"""

from __future__ import annotations

from torch import Tensor, nn

from reference_impls._registry import NOT_TRAINED, Versus, register


class SeparableConv(nn.Module):
    """Depthwise 3×3 then pointwise 1×1, no activation between (Section 4.7), no bias (batch norm follows)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Filter each channel, then mix channels."""
        return self.pointwise(self.depthwise(x))


def sep_bn(c_in: int, c_out: int, relu_first: bool = True) -> nn.Sequential:
    """The flows' unit: ReLU, separable convolution, batch norm (ReLU omitted where the paper's figure omits it)."""
    layers: list[nn.Module] = [nn.ReLU()] if relu_first else []
    return nn.Sequential(*layers, SeparableConv(c_in, c_out), nn.BatchNorm2d(c_out))


class DownBlock(nn.Module):
    """Two separable layers and a 3×3/2 max-pool, with a strided 1×1 convolution on the shortcut."""

    def __init__(self, c_in: int, c_mid: int, c_out: int, relu_first: bool = True) -> None:
        super().__init__()
        self.body = nn.Sequential(sep_bn(c_in, c_mid, relu_first), sep_bn(c_mid, c_out), nn.MaxPool2d(3, 2, padding=1))
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, 2, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        """Downsampled body plus projected shortcut."""
        return self.body(x) + self.shortcut(x)


class MiddleBlock(nn.Module):
    """Three ReLU–separable–BN layers at constant width, with an identity shortcut."""

    def __init__(self, channels: int = 728) -> None:
        super().__init__()
        self.body = nn.Sequential(*(sep_bn(channels, channels) for _ in range(3)))

    def forward(self, x: Tensor) -> Tensor:
        """Residual sum."""
        return x + self.body(x)


class Xception(nn.Module):
    """Entry flow, eight middle-flow blocks, exit flow, classifier (Figure 5)."""

    def __init__(self, num_classes: int = 1000, middle_blocks: int = 8) -> None:
        super().__init__()
        # The first two convolutions are unpadded: 299 → 149 → 147, as in the released Keras model.
        self.entry = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            DownBlock(64, 128, 128, relu_first=False),  # the ReLU just ran: no second one
            DownBlock(128, 256, 256),
            DownBlock(256, 728, 728),
        )
        self.middle = nn.Sequential(*(MiddleBlock(728) for _ in range(middle_blocks)))
        self.exit = nn.Sequential(
            DownBlock(728, 728, 1024),
            SeparableConv(1024, 1536),
            nn.BatchNorm2d(1536),
            nn.ReLU(),
            SeparableConv(1536, 2048),
            nn.BatchNorm2d(2048),
            nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits for a batch of images."""
        return self.classifier(self.pool(self.exit(self.middle(self.entry(x)))).flatten(1))


PAPER_VS_OURS = (
    Versus("ImageNet top-1", "", setting=NOT_TRAINED),
    Versus("ImageNet top-5", "", setting=NOT_TRAINED),
    Versus(
        "Parameters",
        "params",
        scale=1e-6,
        setting="parameters counted in our module at 299×299",
        within=0.02,
    ),
)


@register(
    "xception", arxiv="1610.02357", catalog_id="chollet2017xception", input_shape=(1, 3, 299, 299), versus=PAPER_VS_OURS
)
def xception(num_classes: int = 1000) -> nn.Module:
    """Xception for 299×299 ImageNet images."""
    return Xception(num_classes).eval()


if __name__ == "__main__":
    import torch

    from reference_impls._measure import count_macs, count_params, layers

    model = xception()
    x = torch.randn(1, 3, 299, 299)
    print(f"xception: {count_params(model):,} params, {count_macs(model, x) / 1e9:.2f} G MACs at 299x299")
    # Where the arithmetic goes: depthwise vs pointwise vs full convolutions.
    kinds = {"depthwise": 0, "pointwise": 0, "full": 0, "linear": 0}
    for layer in layers(model, x):
        if layer.name.endswith("depthwise"):
            kinds["depthwise"] += layer.macs
        elif layer.name.endswith("pointwise"):
            kinds["pointwise"] += layer.macs
        elif layer.type == "Linear":
            kinds["linear"] += layer.macs
        else:
            kinds["full"] += layer.macs
    total = sum(kinds.values())
    print("  MAC share: " + ", ".join(f"{k} {v / total:.1%}" for k, v in kinds.items()))
