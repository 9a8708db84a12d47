r"""Pruning a shipped model: BlazeFace's real weights, pruned by magnitude, then healed by distillation.

The technique is that of Han, Pool, Tran and Dally, *Learning both Weights and Connections for Efficient Neural
Networks*, NeurIPS 2015, [arXiv:1506.02626](https://arxiv.org/abs/1506.02626) (`reference_impls.pruning` shows it
on MNIST); here it meets a network that ships: the weights of MediaPipe's `face_detection_short_range.tflite`, read
into our port (`reference_impls.blazeface_front`).

## The idea

- **Pruning without retraining.** Zero the smallest weights of every BlazeBlock's 1×1 convolution, the same
  fraction $s$ of each, and compare the detections with the original's on real photographs. Those layers hold 89%
  of the convolution weights; the 5×5 stem, the 3×3 depthwise kernels (9 weights a channel) and the four heads stay
  dense, as the paper gives sensitive layers lower targets. (Pruned like the others, the whole network loses
  half of the original's detections at 10% sparsity.) The curve of agreement against sparsity shows how much a
  production network tolerates before it needs training.
- **Retraining without labels.** The paper retrains the pruned network on its training set; the shipped model comes
  without one. The original network is its own teacher: on unlabelled photographs (composites of calibration
  faces that never appear in the test images, flipped and jittered in brightness and contrast) the pruned student
  learns the teacher's face scores and, weighted by those scores, its boxes and keypoints, with the masks applied
  after every step so that pruned weights stay zero (Hinton et al.'s distillation, `reference_impls.distillation`).

## The key equation

With teacher scores $p_a = \sigma(t_a)$ and regressors $r_a$ for every anchor $a$, the student's loss is

$$L = \frac{1}{A}\sum_a \mathrm{BCE}\big(\sigma(\hat t_a), p_a\big)
      + \frac{\sum_a p_a\, \overline{|\hat r_a - r_a|}}{2 \max(1, \sum_a p_a)},$$

the second term in input pixels, halved so that a 2-pixel error weighs as much as a confident wrong score.

## What our run measured

Agreement is `blazeface_front.agreement`: the share of the original's detections on the test photographs that the
pruned model reproduces at IoU ≥ 0.5 with every keypoint within 10% of the face's size; recall is on the labelled
face set. Sizes are files of `reference_impls._container`'s format: the dense fp32 port against the relative-index
format of `reference_impls.pruning` (8-bit gaps, fp32 values; the shipped file stores fp16, so it is smaller than
our dense fp32 file to begin with).
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reference_impls import _container as container
from reference_impls import blazeface_front as bf
from reference_impls._detection import recall_precision
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import seed_everything
from reference_impls.pruning import magnitude_mask, write_sparse

SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
FINE_TUNED = (0.2, 0.4)


def convolutions(model: nn.Module) -> list[nn.Conv2d]:
    """The pruned layers: the 1×1 convolution of every BlazeBlock."""
    return [m for name, m in model.named_modules() if name.endswith(".pointwise") and isinstance(m, nn.Conv2d)]


@torch.no_grad()
def pruned(model: nn.Module, sparsity: float) -> tuple[nn.Module, list[torch.Tensor]]:
    """A copy of `model` with the `sparsity` smallest weights of each convolution zeroed, and the masks."""
    copied = copy.deepcopy(model).eval()
    masks = []
    for conv in convolutions(copied):
        mask = magnitude_mask(conv.weight, sparsity)
        conv.weight.mul_(mask)
        masks.append(mask)
    return copied, masks


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and brightness/contrast jitter of images in [-1, 1]: unlabelled training views."""
    n = images.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], images.flip(-1), images)
    contrast = 0.8 + 0.4 * torch.rand(n, 1, 1, 1, generator=generator)
    brightness = 0.4 * torch.rand(n, 1, 1, 1, generator=generator) - 0.2
    return (x * contrast + brightness).clamp(-1, 1)


def distillation_loss(student: tuple[torch.Tensor, ...], teacher: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Score cross-entropy against the teacher's probabilities, plus box/keypoint error weighted by them."""
    (s_reg, s_cls), (t_reg, t_cls) = student, teacher
    p = torch.sigmoid(t_cls)
    scores = F.binary_cross_entropy_with_logits(s_cls, p)
    boxes = (p * (s_reg - t_reg).abs().mean(-1, keepdim=True)).sum() / (2 * p.sum().clamp(min=1))
    return scores + boxes


def distil(
    student: nn.Module,
    teacher: nn.Module,
    images: torch.Tensor,
    masks: list[torch.Tensor],
    *,
    steps: int,
    seed: int,
    batch: int = 16,
    lr: float = 1e-4,
) -> nn.Module:
    """Fine-tune the pruned `student` towards `teacher` on augmented `images`, keeping the pruned weights at zero."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    student.train()
    for _ in range(steps):
        x = augment(images[torch.randint(len(images), (batch,), generator=generator)], generator)
        with torch.no_grad():
            target = teacher(x)
        loss = distillation_loss(student(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for conv, mask in zip(convolutions(student), masks, strict=True):
                conv.weight.mul_(mask)
    return student.eval()


def score(model: nn.Module, inputs: np.ndarray, reference: list, truths: list, labelled: slice) -> dict[str, float]:
    """Agreement with the original's detections and recall/precision on the labelled face set."""
    run = bf.runner("port", model)
    raw = [run(x[None]) for x in inputs]
    figures = bf.agreement(reference, raw)
    found = recall_precision([bf.detect(r) for r in raw][labelled], truths)
    return {"agreement": figures["agreement"], "box_agreement": figures["box_agreement"], **found}


PAPER_VS_OURS = (
    Versus(
        "AlexNet parameter reduction",
        "fine_tuned_weight_reduction",
        setting="BlazeFace's shipped 1×1 weights pruned to 40%, distilled from the original on unlabelled photos",
        effect="after distillation the pruned detector reproduces at least 90% of the original's detections",
        holds=lambda m: m["fine_tuned_agreement"] >= 0.9,
    ),
)


@register(
    "blazeface_pruning",
    arxiv="1506.02626",
    catalog_id="han2015learning",
    input_shape=(1, 3, bf.SIZE, bf.SIZE),
    task="detection",
    versus=PAPER_VS_OURS,
)
def blazeface_pruning() -> nn.Module:
    """The shipped BlazeFace port that the experiment prunes (the unpruned teacher)."""
    return bf.blazeface_front()


@experiment("blazeface_pruning", seeds=3)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Agreement vs sparsity without retraining, then distillation at two sparsities, on real photographs."""
    seed_everything(seed)
    n_lfw, n_faces, n_train, steps = (10, 20, 32, 30) if quick else (70, 200, 256, 600)
    teacher = blazeface_pruning()
    names, inputs, truths = bf.evaluation_inputs(n_lfw, n_faces, seed)
    original = bf.runner("original")
    reference = [bf.detect(original(x[None])) for x in inputs]
    labelled = slice(len(names) - len(truths), None)
    images = bf.calibration_inputs(n_train, seed + 1)  # composites of calibration faces only: never test images

    curve, fine_tuned = [], []
    with tempfile.TemporaryDirectory(prefix="kb-blazeface-pruning-") as tmp:
        dense_bytes = container.write_dense(teacher, Path(tmp) / "dense.kbpack")
        for sparsity in SPARSITIES:
            model, masks = pruned(teacher, sparsity)
            point = {"sparsity": sparsity, **score(model, inputs, reference, truths, labelled)}
            point["sparse_file_bytes"] = write_sparse(model, Path(tmp) / f"sparse-{sparsity}.kbpack")
            curve.append(point)
            if sparsity in FINE_TUNED:
                distil(model, teacher, images, masks, steps=steps, seed=seed)
                after = score(model, inputs, reference, truths, labelled)
                nonzero = sum(int(torch.count_nonzero(c.weight)) for c in convolutions(model))
                reduction = sum(c.weight.numel() for c in convolutions(model)) / nonzero  # counted, not 1/(1-s)
                row = {"sparsity": sparsity, "agreement_before": point["agreement"], **after}
                fine_tuned.append(row | {"weight_reduction": reduction})
    weights = sum(c.weight.numel() for c in convolutions(teacher))
    last = fine_tuned[-1]
    return {
        "images": len(names),
        "reference_detections": sum(map(len, reference)),
        "training_images": n_train,
        "distillation_steps": steps,
        "conv_weights": weights,
        "dense_file_bytes": dense_bytes,
        "agreement_unpruned": curve[0]["agreement"],
        **{f"agreement_at_{round(100 * p['sparsity'])}": p["agreement"] for p in curve[1:]},
        "fine_tuned_sparsity": last["sparsity"],
        "fine_tuned_agreement": last["agreement"],
        "fine_tuned_agreement_before": last["agreement_before"],
        "fine_tuned_recall": last["recall"],
        "fine_tuned_weight_reduction": last["weight_reduction"],
        "unpruned_recall": curve[0]["recall"],
        "seed": seed,
        "quick": quick,
        "curves": {"agreement_vs_sparsity": curve},
        "tables": {"distillation": fine_tuned},
    }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "fewer images and 30 distillation steps, for tests")
