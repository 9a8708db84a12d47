r"""BlazeFace as the paper draws it: the front-camera network of Table 4, built from 5×5 depthwise BlazeBlocks.

*BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs*, Bazarevsky et al., 2019,
[arXiv:1907.05047](https://arxiv.org/abs/1907.05047).

## The idea

- **5×5 depthwise kernels.** On a phone a depthwise convolution costs little next to the 1×1 convolution that
  follows, so enlarging its kernel from 3×3 to 5×5 widens the receptive field almost for free; fewer layers then
  reach the same field of view.
- **BlazeBlock and double BlazeBlock** (Figure 1): a 5×5 depthwise and a 1×1 convolution on a residual path; the
  double block squeezes to 24 channels in between and expands to 96, like a bottleneck turned around.
- **A smaller anchor scheme.** Instead of SSD's pyramid down to 1×1, anchors stop at 8×8: 2 per cell at 16×16 and 6
  per cell at 8×8, 896 in all, each predicting an objectness score and a box.
- **Blending instead of non-maximum suppression**: overlapping boxes are averaged, weighted by their scores.

This module is the architecture alone (random weights), for its size, MACs, latency and export parity. The network
that ships is not this one: `reference_impls.blazeface_front` ports MediaPipe's `face_detection_short_range.tflite`
(3×3 kernels, single blocks only) with its real weights, decodes and blends its detections, and measures them on
real photographs; `reference_impls.blazeface_pruning` prunes it. An earlier version of this module trained the
network on generated rectangles, where its recall fell with training; the ports replaced that experiment.

## The key equation

With detections $b_i$ and scores $s_i$ that overlap the top-scoring one by more than a threshold, the blended box is

$$\hat b = \frac{\sum_i s_i\, b_i}{\sum_i s_i}$$

(`reference_impls._detection.weighted_nms` implements it for the ports).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impls._registry import Versus, register

# Anchor sizes as fractions of the image: 2 per cell on the 16×16 map, 6 per cell on the 8×8 map (at 128×128).
ANCHOR_SIZES = ((0.1, 0.16), (0.22, 0.3, 0.38, 0.46, 0.54, 0.62))


class BlazeBlock(nn.Module):
    """5×5 depthwise then 1×1 (single); with `mid`, a second 5×5 depthwise and 1×1 through `mid` channels (double).

    On a stride-2 block the shortcut max-pools; when channels grow it is padded with zeros, as in the paper.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, mid: int | None = None) -> None:
        super().__init__()
        first_out = mid or c_out
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_in, 5, stride, 2, groups=c_in, bias=False),
            nn.Conv2d(c_in, first_out, 1, bias=False),
            nn.BatchNorm2d(first_out),
        ]
        if mid is not None:
            layers += [
                nn.ReLU(inplace=True),
                nn.Conv2d(mid, mid, 5, 1, 2, groups=mid, bias=False),
                nn.Conv2d(mid, c_out, 1, bias=False),
                nn.BatchNorm2d(c_out),
            ]
        self.body = nn.Sequential(*layers)
        self.pool = nn.MaxPool2d(2) if stride == 2 else nn.Identity()
        self.pad = c_out - c_in

    def forward(self, x: Tensor) -> Tensor:
        """ReLU of the body plus the (pooled, zero-padded) input."""
        shortcut = F.pad(self.pool(x), (0, 0, 0, 0, 0, self.pad)) if self.pad else self.pool(x)
        return F.relu(self.body(x) + shortcut)


class BlazeFace(nn.Module):
    """The front-camera network of Table 4, with objectness and box heads on the 16×16 and 8×8 maps."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 5, 2, 2, bias=False), nn.BatchNorm2d(24), nn.ReLU(inplace=True))
        self.to16 = nn.Sequential(
            BlazeBlock(24, 24),
            BlazeBlock(24, 24),
            BlazeBlock(24, 48, 2),
            BlazeBlock(48, 48),
            BlazeBlock(48, 48),
            BlazeBlock(48, 96, 2, mid=24),
            BlazeBlock(96, 96, mid=24),
            BlazeBlock(96, 96, mid=24),
        )
        self.to8 = nn.Sequential(BlazeBlock(96, 96, 2, mid=24), BlazeBlock(96, 96, mid=24), BlazeBlock(96, 96, mid=24))
        self.scores = nn.ModuleList(nn.Conv2d(96, len(sizes), 1) for sizes in ANCHOR_SIZES)
        self.boxes = nn.ModuleList(nn.Conv2d(96, 4 * len(sizes), 1) for sizes in ANCHOR_SIZES)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Objectness logits (B, A) and box offsets (B, A, 4) per anchor: the 16×16 map first, then the 8×8 one."""
        f16 = self.to16(self.stem(x))
        maps = (f16, self.to8(f16))
        scores = [head(f).permute(0, 2, 3, 1).flatten(1) for head, f in zip(self.scores, maps, strict=True)]
        boxes = [
            head(f).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 4) for head, f in zip(self.boxes, maps, strict=True)
        ]
        return torch.cat(scores, 1), torch.cat(boxes, 1)


PAPER_VS_OURS = (
    Versus("Front-camera face detection average precision", "", setting="random weights: see blazeface_front"),
    Versus("Inference time on iPhone XS", "", setting="random weights on a CPU: see blazeface_front for the real one"),
)


@register(
    "blazeface",
    arxiv="1907.05047",
    catalog_id="bazarevsky2019blazeface",
    input_shape=(1, 3, 128, 128),
    task="detection",
    versus=PAPER_VS_OURS,
)
def blazeface() -> nn.Module:
    """BlazeFace's front-camera network at 128×128, with objectness and box heads (no keypoints)."""
    return BlazeFace().eval()
