r"""BlazeFace: a sub-millisecond face detector built from 5×5 depthwise BlazeBlocks.

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
- **Blending instead of non-maximum suppression.** NMS keeps the single best box and throws away its overlapping
  neighbours, which makes boxes jitter between video frames. BlazeFace instead averages every overlapping box,
  weighted by its score (Section "Post-processing").

Faces need data we do not ship, so this module trains on a synthetic detection set that it generates: filled
rectangles and ellipses of random colour and size on noise. It has no keypoints, so the keypoint outputs of the
paper's head are left out.

## The key equation

With detections $b_i$ and scores $s_i$ that overlap the top-scoring one by more than a threshold, the blended box is

$$\hat b = \frac{\sum_i s_i\, b_i}{\sum_i s_i}.$$

## What our run measured

`kb bench impls --only blazeface` trains for a short run on 64×64 images (to save CPU time; see `run`) and records the
loss at the start and the end, the share of ground-truth boxes found (IoU ≥ 0.5 after blending, scores above 0.5)
and the mean IoU of each image's top-scoring box with its nearest ground truth, on held-out synthetic images, before
and after training; the tables and curve below are generated from that results file.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impls._registry import Versus, experiment, experiment_cli, register

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
        """Objectness logits (B, A) and box offsets (B, A, 4) for every anchor, in `anchors()` order."""
        f16 = self.to16(self.stem(x))
        maps = (f16, self.to8(f16))
        scores = [head(f).permute(0, 2, 3, 1).flatten(1) for head, f in zip(self.scores, maps, strict=True)]
        boxes = [
            head(f).permute(0, 2, 3, 1).reshape(x.shape[0], -1, 4) for head, f in zip(self.boxes, maps, strict=True)
        ]
        return torch.cat(scores, 1), torch.cat(boxes, 1)


def anchors(image_size: int = 128) -> Tensor:
    """Anchor boxes (A, 4) as (cx, cy, w, h) in [0, 1]: cell centres of the /8 and /16 maps, row-major."""
    out = []
    for stride, sizes in zip((8, 16), ANCHOR_SIZES, strict=True):
        cells = image_size // stride
        centres = (torch.arange(cells) + 0.5) / cells
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        for y, x in zip(cy.flatten(), cx.flatten(), strict=True):
            out += [[x, y, s, s] for s in sizes]
    return torch.tensor(out)


def decode(offsets: Tensor, anchor: Tensor) -> Tensor:
    """Offsets (…, 4) relative to anchors into boxes (cx, cy, w, h): centre shift in anchor units, log size ratio."""
    centre = anchor[..., :2] + offsets[..., :2] * anchor[..., 2:]
    return torch.cat([centre, anchor[..., 2:] * offsets[..., 2:].exp()], -1)


def encode(boxes: Tensor, anchor: Tensor) -> Tensor:
    """The inverse of `decode`: the offsets that turn each anchor into the matched box."""
    shift = (boxes[..., :2] - anchor[..., :2]) / anchor[..., 2:]
    return torch.cat([shift, (boxes[..., 2:] / anchor[..., 2:]).log()], -1)


def iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise intersection over union of (N, 4) and (M, 4) boxes in (cx, cy, w, h) form."""
    a0, a1 = a[:, None, :2] - a[:, None, 2:] / 2, a[:, None, :2] + a[:, None, 2:] / 2
    b0, b1 = b[None, :, :2] - b[None, :, 2:] / 2, b[None, :, :2] + b[None, :, 2:] / 2
    inter = (torch.min(a1, b1) - torch.max(a0, b0)).clamp(min=0).prod(-1)
    return inter / (a[:, None, 2:].prod(-1) + b[None, :, 2:].prod(-1) - inter)


def blend(
    boxes: Tensor, scores: Tensor, threshold: float = 0.5, overlap: float = 0.3, top_k: int = 100
) -> list[tuple[Tensor, float]]:
    """Weighted blending: each kept box is the score-weighted mean of the detections overlapping the best one.

    Only the `top_k` highest scores above `threshold` take part, which bounds the loop on an untrained model.
    """
    scores, order = scores.topk(min(top_k, scores.numel()))
    keep = scores > threshold
    boxes, scores = boxes[order][keep], scores[keep]
    results = []
    while scores.numel():
        best = scores.argmax()
        group = iou(boxes[best : best + 1], boxes)[0] > overlap
        weights = scores[group]
        results.append(((boxes[group] * weights[:, None]).sum(0) / weights.sum(), scores[best].item()))
        boxes, scores = boxes[~group], scores[~group]
    return results


def shapes(n: int, size: int = 128, seed: int = 0, max_objects: int = 2) -> tuple[Tensor, list[Tensor]]:
    """A synthetic detection set: 1 to `max_objects` filled rectangles or ellipses on noise, with their boxes."""
    g = torch.Generator().manual_seed(seed)
    images = (0.5 + 0.2 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)
    ys, xs = torch.meshgrid((torch.arange(size) + 0.5) / size, (torch.arange(size) + 0.5) / size, indexing="ij")
    targets = []
    for i in range(n):
        boxes = []
        for _ in range(int(torch.randint(1, max_objects + 1, (1,), generator=g))):
            w, h = (0.12 + 0.45 * torch.rand(2, generator=g)).tolist()
            cx, cy = (torch.tensor([w / 2, h / 2]) + torch.tensor([1 - w, 1 - h]) * torch.rand(2, generator=g)).tolist()
            dx, dy = (xs - cx) / (w / 2), (ys - cy) / (h / 2)
            inside = (dx.abs() <= 1) & (dy.abs() <= 1) if torch.rand(1, generator=g) < 0.5 else dx**2 + dy**2 <= 1
            images[i][:, inside] = torch.rand(3, 1, generator=g)
            boxes.append([cx, cy, w, h])
        targets.append(torch.tensor(boxes))
    return images, targets


def detection_loss(scores: Tensor, offsets: Tensor, targets: list[Tensor], anchor: Tensor) -> Tensor:
    """SSD-style loss: anchors with IoU ≥ 0.5 (and each box's best anchor) are positives; 3 negatives per positive.

    Objectness is binary cross-entropy on the positives and the hardest negatives, boxes a smooth-L1 on positives.
    """
    cls_losses, box_losses = [], []
    for score, offset, boxes in zip(scores, offsets, targets, strict=True):
        overlaps = iou(anchor, boxes)  # (A, objects)
        best_iou, best_box = overlaps.max(1)
        best_iou[overlaps.argmax(0)] = 1.0  # every box gets at least its best anchor
        best_box[overlaps.argmax(0)] = torch.arange(boxes.shape[0])
        positive = best_iou >= 0.5
        loss = F.binary_cross_entropy_with_logits(score, positive.float(), reduction="none")
        hard_negatives = loss[~positive].topk(min(3 * int(positive.sum()), int((~positive).sum()))).values
        cls_losses.append(torch.cat([loss[positive], hard_negatives]).mean())
        box_losses.append(F.smooth_l1_loss(offset[positive], encode(boxes[best_box[positive]], anchor[positive])))
    return torch.stack(cls_losses).mean() + torch.stack(box_losses).mean()


@torch.no_grad()
def recall(model: nn.Module, images: Tensor, targets: list[Tensor], threshold: float = 0.5) -> float:
    """Share of ground-truth boxes that some blended detection overlaps with IoU ≥ 0.5."""
    model.eval()
    scores, offsets = model(images)
    anchor = anchors(images.shape[-1])
    found = total = 0
    for score, offset, boxes in zip(scores.sigmoid(), offsets, targets, strict=True):
        detections = blend(decode(offset, anchor), score, threshold)
        total += boxes.shape[0]
        if detections:
            found += int((iou(boxes, torch.stack([box for box, _ in detections])).max(1).values >= 0.5).sum())
    return found / total


@torch.no_grad()
def top_box_iou(model: nn.Module, images: Tensor, targets: list[Tensor]) -> float:
    """Mean IoU between each image's highest-scoring box and the ground-truth box it overlaps most.

    Unlike recall it needs no score threshold, so it shows boxes landing before the scores are calibrated.
    """
    model.eval()
    scores, offsets = model(images)
    best = scores.argmax(1)
    boxes = decode(offsets[torch.arange(len(best)), best], anchors(images.shape[-1])[best])
    return sum(iou(box[None], truth).max().item() for box, truth in zip(boxes, targets, strict=True)) / len(targets)


def train(
    model: nn.Module,
    images: Tensor,
    targets: list[Tensor],
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Train with Adam on random batches; returns the loss of every step."""
    g = torch.Generator().manual_seed(seed)
    anchor = anchors(images.shape[-1])
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, images.shape[0], (batch_size,), generator=g)
        scores, offsets = model(images[idx])
        loss = detection_loss(scores, offsets, [targets[i] for i in idx], anchor)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    model.eval()
    return losses


PAPER_VS_OURS = (
    Versus(
        "Front-camera face detection average precision",
        "recall_iou50_after",
        scale=100,
        setting="recall at IoU 0.5 on generated rectangles, not average precision on real faces",
        effect="training raises recall",
        holds=lambda m: m["recall_iou50_after"] > m["recall_iou50_before"],
    ),
    Versus("Inference time on iPhone XS", "", setting="not measured for this synthetic model: see blazeface_front"),
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


@experiment("blazeface")
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train on synthetic shapes; report the loss curve and the recall of blended boxes before and after."""
    torch.manual_seed(seed)
    # Backward passes of 5×5 depthwise convolutions are slow on CPU (about 8 s per step of 32 images at 128×128 on
    # one core), so training runs on 64×64 images: the network is fully convolutional and the anchors follow the
    # image size (8×8 and 4×4 maps). Size and latency are measured at the paper's 128×128.
    steps, n_train, size, batch_size = (40, 256, 64, 16) if quick else (300, 1024, 64, 16)
    images, targets = shapes(n_train, size, seed=seed)
    test_images, test_targets = shapes(100, size, seed=seed + 1)
    model = blazeface()
    before = recall(model, test_images, test_targets), top_box_iou(model, test_images, test_targets)
    losses = train(model, images, targets, steps=steps, batch_size=batch_size, seed=seed)
    window = max(1, steps // 10)  # mean over a tenth of the run: single-batch losses are noisy
    return {
        "steps": steps,
        "train_images": n_train,
        "image_size": size,
        "loss_first": sum(losses[:window]) / window,
        "loss_last": sum(losses[-window:]) / window,
        "recall_iou50_before": before[0],
        "recall_iou50_after": recall(model, test_images, test_targets),
        "top_box_iou_before": before[1],
        "top_box_iou_after": top_box_iou(model, test_images, test_targets),
        "curves": {"loss": [{"step": i, "loss": loss} for i, loss in enumerate(losses)]},
    }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "40 steps on 256 images, for tests")
