r"""BlazeFace, the shipped one: MediaPipe's front-camera face detector ported to PyTorch from its `.tflite`.

*BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs*, Bazarevsky et al., 2019,
[arXiv:1907.05047](https://arxiv.org/abs/1907.05047). The weights are those of
`face_detection_short_range.tflite` in the `mediapipe==0.10.14` wheel (Apache-2.0), read out of the file by
`reference_impls/_tflite.py`; `python scripts/fetch_models.py` fetches it.

## The idea

- **BlazeBlocks.** A depthwise convolution and a 1×1 convolution on a residual path; on a stride-2 block the
  shortcut max-pools, and when the channels grow it is padded with zeros. On a phone GPU the depthwise layer costs
  little next to the 1×1 one, so the network spends its layers on width, not depth.
- **Anchors only down to 8×8.** 2 anchors per cell on the 16×16 map and 6 on the 8×8 map: 896 in all, each
  predicting a face score, a box and 6 keypoints (eyes, nose tip, mouth, ear tragions).
- **Blending instead of non-maximum suppression**: every box overlapping the best one is averaged in, weighted by
  its score, which steadies the boxes from frame to frame.

The file is not Table 4 of the paper: the shipped short-range model uses 3×3 depthwise kernels (the paper's 5×5
is its GPU argument), only single BlazeBlocks, and widens slowly, 24 → 96 channels over 16 blocks; `BLOCKS` below is
the file's architecture, and the loader checks every tensor's shape against it.

## The key equation

A box is decoded from its anchor centre $(a_x, a_y)$ and the raw outputs in input pixels ($s = 128$):
$x = a_x + r_0/s$, $y = a_y + r_1/s$, $w = r_2/s$, $h = r_3/s$; and with the detections $b_i$ of score $s_i$ that
overlap the best one by IoU > 0.3, the blended box is $\hat b = \sum_i s_i b_i / \sum_i s_i$.

## What our run measured

`python -m reference_impls.blazeface_front` runs the port and the shipped file through LiteRT on the same real
photographs (scikit-image's and matplotlib's sample images, and a labelled face set composited from them, see
`reference_impls/_face_set.py`) and records the largest raw difference, the share of the original's detections
that the port reproduces, recall and precision for both, their latencies alternated call by call, and the int8
port's agreement; the page's tables are generated from that results file. It also times, in ONNX Runtime, the
shortcuts' channel pads written as 1×1 convolutions (`onnx_rewrite`), the rewrite that the face mesh's file takes.
This detector widens in 11 of its 16 blocks, so there each identity convolution costs as much as a pointwise layer
where it saves a layout round trip; our file keeps the pads, and the record shows what the rewrite would change.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impls import _detection as det
from reference_impls import _shipped, _tflite
from reference_impls._registry import Versus, experiment, experiment_cli, register

FILE = "face_detection_short_range.tflite"
SIZE = 128
# (input channels, output channels, stride) of each BlazeBlock, as the file has them.
BLOCKS = (
    (24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2), (48, 56, 1), (56, 64, 1),
    (64, 72, 1), (72, 80, 1), (80, 88, 1), (88, 96, 2), (96, 96, 1), (96, 96, 1), (96, 96, 1), (96, 96, 1),
)  # fmt: skip
TO_16 = 11  # blocks before the first head: the 16×16 map of 88 channels
OPTIONS = det.SsdOptions(input_size=SIZE, strides=(8, 16, 16, 16))
ANCHORS_PER_CELL = (2, 6)


class BlazeBlock(nn.Module):
    """Depthwise k×k, then 1×1, plus the (max-pooled, zero-padded) input; ReLU after the sum."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, kernel, stride, groups=c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1)
        self.stride, self.kernel, self.pad = stride, kernel, c_out - c_in

    def forward(self, x: Tensor) -> Tensor:
        """ReLU(pointwise(depthwise(x)) + shortcut(x))."""
        y = self.pointwise(self.depthwise(_tflite.same_pad(x, self.kernel, self.stride)))
        shortcut = F.max_pool2d(x, 2, 2) if self.stride == 2 else x  # stride spelled out: XNNPACK reads it
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.pad))
        return F.relu(y + shortcut)


class BlazeFaceFront(nn.Module):
    """The short-range detector: a 5×5 stem, 16 BlazeBlocks, score and regressor heads on the 16×16 and 8×8 maps.

    Takes (B, 3, 128, 128) in [-1, 1]; returns regressors (B, 896, 16) and classificators (B, 896, 1), the shipped
    file's two outputs in its anchor order.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 24, 5, 2)
        self.blocks = nn.ModuleList(BlazeBlock(*spec) for spec in BLOCKS)
        # Registered in the file's order: both score heads, then both regressor heads.
        self.score_16 = nn.Conv2d(88, ANCHORS_PER_CELL[0], 1)
        self.score_8 = nn.Conv2d(96, ANCHORS_PER_CELL[1], 1)
        self.box_16 = nn.Conv2d(88, 16 * ANCHORS_PER_CELL[0], 1)
        self.box_8 = nn.Conv2d(96, 16 * ANCHORS_PER_CELL[1], 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Raw box regressors and score logits for every anchor."""
        x = F.relu(self.stem(_tflite.same_pad(x, 5, 2)))
        for block in self.blocks[:TO_16]:
            x = block(x)
        f16 = x
        for block in self.blocks[TO_16:]:
            x = block(x)
        f8, b = x, x.shape[0]

        def flat(head: nn.Module, f: Tensor, width: int) -> Tensor:
            return head(f).permute(0, 2, 3, 1).reshape(b, -1, width)  # NHWC order, as the file reshapes

        regressors = torch.cat([flat(self.box_16, f16, 16), flat(self.box_8, f8, 16)], 1)
        classificators = torch.cat([flat(self.score_16, f16, 1), flat(self.score_8, f8, 1)], 1)
        return regressors, classificators


PAPER_VS_OURS = (
    Versus(
        "Front-camera face detection average precision",
        "port.recall",
        scale=100,
        setting="recall at IoU 0.5 on our labelled face set (real faces composited at known places), not AP",
        effect="our port finds exactly the faces the shipped model finds",
        holds=lambda m: m["port"]["recall"] == m["original"]["recall"],
    ),
    Versus(
        "Inference time on iPhone XS",
        "latency.executorch.port_p50_ms",
        setting="our port in ExecuTorch-XNNPACK on one core of the CPU the record names, not the iPhone XS GPU",
        effect="our port in ExecuTorch runs within 1.2× of the original in LiteRT on the same CPU",
        holds=lambda m: m["latency"]["executorch"]["latency_ratio_vs_reference"] <= 1.2,
    ),
)


@register(
    "blazeface_front",
    arxiv="1907.05047",
    catalog_id="bazarevsky2019blazeface",
    input_shape=(1, 3, SIZE, SIZE),
    task="detection",
    versus=PAPER_VS_OURS,
)
def blazeface_front(weights: bool = True) -> nn.Module:
    """The port with the shipped weights (`weights=False`: the architecture alone, randomly initialised)."""
    model = BlazeFaceFront().eval()
    if weights:
        _tflite.load(model, _tflite.Graph(_shipped.model_path(FILE)).weights())
    return model


def runner(runtime: str = "port", model: nn.Module | None = None) -> Any:
    """`raw(nhwc) -> (regressors, classificators)` for our port (eager PyTorch) or the original in LiteRT."""
    return det.raw_runner(runtime, FILE, ("regressors", "classificators"), blazeface_front, model)


def detect(raw: tuple[np.ndarray, ...]) -> list[dict[str, Any]]:
    """Decoded, blended detections (in [0, 1] of the input) from the two raw outputs."""
    return det.weighted_nms(*det.decode(*raw, OPTIONS), OPTIONS)


def run_image(path: str | Path, runtime: str = "port") -> dict[str, Any]:
    """Faces in one image file: boxes (xmin, ymin, xmax, ymax), 6 keypoints and scores, in the image's pixels."""
    x, box = det.letterbox(path, SIZE)
    found = det.in_pixels(detect(runner(runtime)(x)), box, SIZE)
    return {"image": str(path), "width": box.width, "height": box.height, "runtime": runtime, "detections": found}


@functools.cache
def _original() -> Any:
    return runner("original")


def detect_faces(image: Any) -> list[dict[str, Any]]:
    """Faces in a PIL image by the shipped file, in its pixels: how the face set locates the portraits' faces."""
    x, box = det.letterbox(image, SIZE)
    return det.in_pixels(detect(_original()(x)), box, SIZE)


PHOTOS = ("astronaut.png", "coffee.png", "camera.png", "chelsea.png", "rocket.jpg", "grace_hopper.jpg")


def evaluation_inputs(n_lfw: int, n_composites: int, seed: int) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
    """Names, letterboxed inputs (N, 128, 128, 3) and the face set's truth boxes in input coordinates."""
    from reference_impls import _face_set

    names, inputs = [], []
    for name in PHOTOS:
        names.append(name)
        inputs.append(det.letterbox(_shipped.photo(name), SIZE)[0])
    lfw = np.load(_shipped.model_path("lfw_subset.npy"))
    for i in list(_face_set.TEST_FACES)[:n_lfw]:
        names.append(f"lfw_subset[{i}]")
        inputs.append(det.letterbox(_face_set.grey_face(lfw[i], 25), SIZE)[0])

    faces = _face_set.build(n_composites, seed, detect_faces)
    truths = []
    for i, image in enumerate(faces.images):
        names.append(f"face_set[{i}]:{faces.kinds[i]}")
        x, box = det.letterbox(image, SIZE)
        inputs.append(x)
        truths.append((faces.boxes[i].reshape(-1, 2, 2) * box.scale + [box.pad_x, box.pad_y]).reshape(-1, 4) / SIZE)
    return names, np.concatenate(inputs), truths


def calibration_inputs(n: int, seed: int) -> torch.Tensor:
    """Letterboxed calibration images (N, 3, 128, 128): face-set composites built only from calibration faces."""
    from reference_impls import _face_set

    images = _face_set.build(n, seed, calibration=True).images
    return torch.from_numpy(det.nchw(np.concatenate([det.letterbox(image, SIZE)[0] for image in images])))


def agreement(reference: list[list[dict[str, Any]]], raw: list[tuple[np.ndarray, ...]]) -> dict[str, float]:
    """Share of the reference detections reproduced, by box and keypoints and by box alone, and keypoint error."""
    ours = [detect(r) for r in raw]
    errors = [det.keypoint_error(r, o) for ref, o in zip(reference, ours, strict=True) for r in ref]
    return {
        "agreement": det.agreement(reference, ours),
        "box_agreement": det.agreement(reference, ours, np.inf),
        "keypoint_error_median": float(np.median(errors)) if errors else 0.0,
        "keypoint_error_max": float(np.max(errors)) if errors else 0.0,
    }


@experiment("blazeface_front")
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Parity, agreement, recall/precision, latency beside the original, and int8, on real photographs."""
    import tempfile

    from reference_impls import _shipped_bench

    torch.manual_seed(seed)
    n_lfw, n_faces, n_calibration, runs = (10, 20, 8, 50) if quick else (70, 200, 128, 300)
    runtimes = ("onnxruntime",) if quick else _shipped_bench.RUNTIMES  # ExecuTorch lowering takes a minute
    model, original = blazeface_front(), runner("original")
    names, inputs, truths = evaluation_inputs(n_lfw, n_faces, seed)
    theirs = [original(x[None]) for x in inputs]
    ours = [runner("port", model)(x[None]) for x in inputs]
    diffs = [_shipped_bench.max_abs_diff(t, o) for t, o in zip(theirs, ours, strict=True)]
    reference, labelled = [detect(t) for t in theirs], slice(len(names) - len(truths), None)
    port = agreement(reference, ours)
    result: dict[str, Any] = {
        "images": len(names),
        "photographs": list(PHOTOS),
        "anchors": int(det.anchors(OPTIONS).shape[0]),
        "keypoint_tolerance": det.KEYPOINT_TOLERANCE,
        "reference_max_abs_diff": max(diffs),
        "reference_detections": sum(map(len, reference)),
        "reference_agreement": port["agreement"],
        "reference_box_agreement": port["box_agreement"],
        "face_set_images": len(truths),
        "original": det.recall_precision(reference[labelled], truths),
        "port": det.recall_precision([detect(o) for o in ours][labelled], truths),
        "int8": {"calibration_images": n_calibration},
    }

    def score(int8: list[tuple[np.ndarray, ...]]) -> dict[str, Any]:
        return {
            **agreement(reference, int8),
            **det.recall_precision([detect(q) for q in int8][labelled], truths),
            "max_abs_diff": max(map(_shipped_bench.max_abs_diff, int8, theirs)),
        }

    nchw = det.nchw(inputs)
    with tempfile.TemporaryDirectory(prefix="blazeface-front-") as tmp:
        exported = _shipped_bench.export_port(model, calibration_inputs(n_calibration, seed), Path(tmp), runtimes)
        result["latency"] = _shipped_bench.latency_table(
            exported, _shipped.model_path(FILE), nchw[:1], runs, threads=(1,) if quick else (1, 2)
        )
        _shipped_bench.score_exports(result, exported, nchw, ours, score)
        if not quick:
            result["coreml"] = _shipped_bench.coreml(model, calibration_inputs(1, seed), Path(tmp))
            # The face mesh writes its channel pads as convolutions for ONNX Runtime; timed here, not taken.
            result["onnx_rewrite"] = _shipped_bench.onnx_rewrite(
                model, torch.from_numpy(nchw[:1]), ("Pad",), Path(tmp), runs
            )
    _shipped_bench.headline(result, runtimes)
    result["tables"] = {
        "photographs": [
            {"image": n, "max_abs_diff": d, "original": len(r), "port": len(detect(o))}
            for n, d, r, o in zip(names, diffs, reference, ours, strict=True)
            if not n.startswith(("lfw", "face_set"))
        ]
    }
    return result


if __name__ == "__main__":
    experiment_cli(run, __doc__, "10 LFW crops, 20 composites, ONNX Runtime only, 50 timed pairs")
