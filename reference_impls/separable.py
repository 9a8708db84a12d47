r"""Standard vs depthwise-separable convolution.

*MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications*, Howard et al., 2017,
[arXiv:1704.04861](https://arxiv.org/abs/1704.04861), Section 3.1.

## The idea

A standard K×K convolution filters and combines channels in one step: every one of the N output channels looks at
all M input channels through its own K×K kernel. A depthwise-separable convolution splits the two jobs: a
*depthwise* K×K convolution filters each input channel on its own (M kernels, `groups=M`), then a *pointwise* 1×1
convolution combines the M filtered channels into N outputs. Each is followed by batch norm and ReLU, as in
MobileNet's Figure 3.

## The key equation

On a D_F×D_F output map, the standard convolution costs D_K·D_K·M·N·D_F·D_F multiply-accumulates; the separable
one costs D_K·D_K·M·D_F·D_F + M·N·D_F·D_F. Their ratio (MobileNet's Eq. 5) is

$$\frac{D_K^2 M D_F^2 + M N D_F^2}{D_K^2 M N D_F^2} = \frac{1}{N} + \frac{1}{D_K^2},$$

so with 3×3 kernels the separable layer needs 8 to 9 times fewer MACs. Parameters shrink by the same ratio.

## What our run measured

`kb bench impls --only separable_conv` measures both layers at MobileNet's 14×14×512 stage: the computed ratio, the
counted MAC and parameter ratios, and the latency ratio on this machine's CPU, eager and exported. The tables below
come from that results file; nothing in them is typed by hand. Expect the latency ratio to fall short of the MAC
ratio: a depthwise convolution does little arithmetic per byte it reads, so it runs far below the CPU's peak.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_impls._registry import register

# MobileNet's 14×14 stage (Table 1): five layers of 512 → 512 channels, which hold most of the network's MACs.
STAGE = {"channels": 512, "size": 14, "kernel": 3}


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    """Convolution (no bias: batch norm's shift replaces it), batch norm, and ReLU unless `act` is False."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class StandardConv(nn.Module):
    """A K×K convolution over all input channels, batch norm, ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = conv_bn(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter and combine channels in one step."""
        return self.conv(x)


class DepthwiseSeparableConv(nn.Module):
    """A depthwise K×K convolution (one kernel per channel), then a pointwise 1×1 one; each with BN and ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = conv_bn(c_in, c_in, kernel, stride, groups=c_in)
        self.pointwise = conv_bn(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter each channel, then combine channels."""
        return self.pointwise(self.depthwise(x))


def cost_ratio(n_out: int, kernel: int) -> float:
    """MobileNet's Eq. 5: separable over standard MACs, 1/N + 1/D_K²."""
    return 1 / n_out + 1 / kernel**2


@register(
    "separable_conv",
    arxiv="1704.04861",
    catalog_id="howard2017mobilenets",
    input_shape=(1, STAGE["channels"], STAGE["size"], STAGE["size"]),
    task="building block",
)
def separable_conv(
    separable: bool = True, channels: int = STAGE["channels"], kernel: int = STAGE["kernel"]
) -> nn.Module:
    """One layer of MobileNet's 14×14 stage: depthwise-separable by default, standard with `separable=False`."""
    layer = DepthwiseSeparableConv if separable else StandardConv
    return layer(channels, channels, kernel).eval()


def compare(
    channels: int = STAGE["channels"], size: int = STAGE["size"], kernel: int = STAGE["kernel"], runs: int = 20
) -> dict[str, float]:
    """Computed vs counted vs timed cost of the separable layer relative to the standard one."""
    from reference_impls._measure import count_macs, count_params, torch_latency

    x = torch.randn(1, channels, size, size)
    standard, separable = separable_conv(False, channels, kernel), separable_conv(True, channels, kernel)
    time_standard = torch_latency(standard, x, runs=runs)["threads_1"]["p50_ms"]
    time_separable = torch_latency(separable, x, runs=runs)["threads_1"]["p50_ms"]
    return {
        "computed_ratio": cost_ratio(channels, kernel),
        "mac_ratio": count_macs(separable, x) / count_macs(standard, x),
        "param_ratio": count_params(separable) / count_params(standard),
        "latency_ratio_1_thread": time_separable / time_standard,
    }


if __name__ == "__main__":
    for key, value in compare().items():
        print(f"{key:>24}: {value:.4f}")
