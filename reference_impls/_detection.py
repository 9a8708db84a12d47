"""SSD post-processing as MediaPipe's face detectors do it: anchors, decoding, weighted NMS, letterboxing.

Everything here runs on numpy arrays, the same code after the shipped `.tflite` and after our port, so that any
difference between the two is the network's. The steps follow MediaPipe's calculators (`SsdAnchorsCalculator`,
`TensorsToDetectionsCalculator`, `NonMaxSuppressionCalculator` with the WEIGHTED algorithm, and
`DetectionLetterboxRemovalCalculator`); the options are those of `face_detection_short_range.pbtxt` and
`face_detection_full_range.pbtxt` in MediaPipe 0.10.14.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class SsdOptions:
    """The anchor and decoding options of one detector (the fields of MediaPipe's two calculators)."""

    input_size: int
    strides: tuple[int, ...]
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    anchor_offset: float = 0.5
    interpolated_scale_aspect_ratio: float = 1.0
    num_keypoints: int = 6
    score_clipping: float = 100.0
    min_score: float = 0.5
    min_suppression_iou: float = 0.3


def anchors(options: SsdOptions) -> np.ndarray:
    """Anchor centres (A, 2) in [0, 1], in the order of the model's outputs (`SsdAnchorsCalculator`).

    Consecutive layers of equal stride share one feature map: each contributes an anchor of its scale and one of
    the interpolated scale (`fixed_anchor_size` is set, so every anchor is 1×1 and only the centres matter).
    """
    centres, layer = [], 0
    n = len(options.strides)
    while layer < n:
        per_cell = 0
        last = layer
        while last < n and options.strides[last] == options.strides[layer]:
            per_cell += 1 + (options.interpolated_scale_aspect_ratio > 0)
            last += 1
        cells = int(np.ceil(options.input_size / options.strides[layer]))
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
        centres.append(np.repeat((grid + options.anchor_offset) / cells, per_cell, axis=0))
        layer = last
    return np.concatenate(centres)


def decode(
    regressors: np.ndarray, classificators: np.ndarray, options: SsdOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (A, 4) as (xmin, ymin, xmax, ymax) and keypoints (A, K, 2), in [0, 1], and scores (A,).

    The raw box is the centre offset and size in input pixels; keypoints are offsets from the anchor centre.
    """
    centre = anchors(options)
    raw = regressors.reshape(-1, 4 + 2 * options.num_keypoints) / options.input_size
    xy = raw[:, :2] + centre
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([xy - half, xy + half], 1)
    keypoints = raw[:, 4:].reshape(-1, options.num_keypoints, 2) + centre[:, None]
    logits = np.clip(classificators.reshape(-1), -options.score_clipping, options.score_clipping)
    return boxes, keypoints, (1 / (1 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with (N, 4) boxes, both (xmin, ymin, xmax, ymax)."""
    low, high = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(high - low, 0, None).prod(1)
    area = (box[2:] - box[:2]).prod() + (boxes[:, 2:] - boxes[:, :2]).prod(1)
    return inter / np.maximum(area - inter, 1e-12)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, options: SsdOptions
) -> list[dict[str, Any]]:
    """BlazeFace's blending: every box overlapping the best one is averaged in, weighted by its score.

    Plain NMS keeps the best box and drops its neighbours; blending uses them, which steadies the box from one
    video frame to the next. The blended detection keeps the best box's score.
    """
    order = np.flatnonzero(scores >= options.min_score)
    order = order[np.argsort(-scores[order], kind="stable")]
    detections = []
    while order.size:
        overlap = iou(boxes[order[0]], boxes[order]) > options.min_suppression_iou
        group, order = order[overlap], order[~overlap]
        weights = scores[group][:, None]
        detections.append(
            {
                "box": (boxes[group] * weights).sum(0) / weights.sum(),
                "keypoints": (keypoints[group] * weights[:, :, None]).sum(0) / weights.sum(),
                "score": float(scores[group[0]]),
            }
        )
    return detections


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the square input: scale and padding, to map detections back to pixels."""

    width: int
    height: int
    scale: float
    pad_x: float
    pad_y: float

    def to_pixels(self, points: np.ndarray, size: int) -> np.ndarray:
        """Points (..., 2) in [0, 1] of the model's input to the original image's pixel coordinates."""
        return (points * size - np.array([self.pad_x, self.pad_y])) / self.scale


def letterbox(image: Image.Image | str | Path, size: int) -> tuple[np.ndarray, Letterbox]:
    """An RGB image fitted into `size`×`size` (aspect kept, black borders), as (1, size, size, 3) floats in [-1, 1]."""
    image = (Image.open(image) if isinstance(image, str | Path) else image).convert("RGB")
    scale = size / max(image.size)
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    canvas = Image.new("RGB", (size, size))
    pad_x, pad_y = (size - width) // 2, (size - height) // 2
    canvas.paste(image.resize((width, height), Image.Resampling.BILINEAR), (pad_x, pad_y))
    array = np.asarray(canvas, dtype=np.float32)[None] / 127.5 - 1.0
    return array, Letterbox(image.width, image.height, width / image.width, pad_x, pad_y)


def in_pixels(detections: list[dict[str, Any]], box: Letterbox, size: int) -> list[dict[str, Any]]:
    """Detections in the original image's pixel coordinates, as plain lists (JSON-ready)."""
    return [
        {
            "box": box.to_pixels(d["box"].reshape(2, 2), size).ravel().round(2).tolist(),
            "keypoints": box.to_pixels(d["keypoints"], size).round(2).tolist(),
            "score": round(d["score"], 5),
        }
        for d in detections
    ]


# A keypoint counts as the same when it lies within this fraction of the reference box's side: at the 128-pixel
# input one pixel is 2-5% of a typical face box, so 0.1 allows two to four pixels.
KEYPOINT_TOLERANCE = 0.1


def keypoint_error(reference: dict[str, Any], ours: list[dict[str, Any]]) -> float:
    """Largest keypoint distance (per axis) of the best-overlapping detection of ours, over the reference box side."""
    if not ours:
        return float("inf")
    best = max(ours, key=lambda d: iou(reference["box"], d["box"][None])[0])
    return float(
        np.abs(best["keypoints"] - reference["keypoints"]).max() / np.max(reference["box"][2:] - reference["box"][:2])
    )


def reproduced(
    reference: list[dict[str, Any]], ours: list[dict[str, Any]], keypoint_tolerance: float = KEYPOINT_TOLERANCE
) -> int:
    """How many reference detections one of ours matches: IoU ≥ 0.5 and every keypoint within the tolerance."""
    found = 0
    for ref in reference:
        size = float(np.max(ref["box"][2:] - ref["box"][:2]))
        for det in ours:
            close = np.abs(det["keypoints"] - ref["keypoints"]).max() <= keypoint_tolerance * size
            if iou(ref["box"], det["box"][None])[0] >= 0.5 and close:
                found += 1
                break
    return found


def agreement(
    reference: list[list[dict[str, Any]]],
    ours: list[list[dict[str, Any]]],
    keypoint_tolerance: float = KEYPOINT_TOLERANCE,
) -> float:
    """Share of all the reference's detections, over a list of images, that ours reproduce (`reproduced`)."""
    matched = sum(reproduced(r, o, keypoint_tolerance) for r, o in zip(reference, ours, strict=True))
    return matched / max(sum(map(len, reference)), 1)


def recall_precision(detections: list[list[dict[str, Any]]], truths: list[np.ndarray]) -> dict[str, float]:
    """Recall and precision at IoU ≥ 0.5 over a labelled set; each truth box matches at most one detection."""
    hits = n_detections = n_truths = 0
    for found, boxes in zip(detections, truths, strict=True):
        n_detections += len(found)
        n_truths += len(boxes)
        free = list(range(len(found)))
        for truth in boxes:
            overlaps = [(iou(truth, found[j]["box"][None])[0], j) for j in free]
            best = max(overlaps, default=(0.0, -1))
            if best[0] >= 0.5:
                hits += 1
                free.remove(best[1])
    return {"recall": hits / max(n_truths, 1), "precision": hits / max(n_detections, 1)}


def nchw(nhwc: np.ndarray) -> np.ndarray:
    """A batch of NHWC images (LiteRT's layout) in PyTorch's NCHW layout."""
    return np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))


def raw_runner(
    runtime: str, file: str, outputs: tuple[str, str], build: Callable[[], torch.nn.Module], model: Any = None
) -> Callable[[np.ndarray], tuple[np.ndarray, ...]]:
    """`raw(nhwc) -> (regressors, classificators)` of a detector, in our port or in the original.

    The port runs in eager PyTorch; the original `.tflite` `file` runs in LiteRT, its two output tensors named
    `outputs`.
    """
    from reference_impls import _shipped, _tflite

    if runtime == "original":
        interpreter = _tflite.interpreter_runner(_shipped.model_path(file))
        return lambda x: tuple(interpreter(x)[name] for name in outputs)
    if runtime != "port":
        raise ValueError(f"runtime must be 'port' or 'original', not {runtime!r}")
    port = model or build()

    def raw(x: np.ndarray) -> tuple[np.ndarray, ...]:
        with torch.no_grad():
            return tuple(t.numpy() for t in port(torch.from_numpy(nchw(x))))

    return raw
