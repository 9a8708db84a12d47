r"""BlazeFace full range, the shipped sparse one: MediaPipe's pruned far-face detector ported from its `.tflite`.

*BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs*, Bazarevsky et al., 2019,
[arXiv:1907.05047](https://arxiv.org/abs/1907.05047), in the full-range variant MediaPipe ships for faces up to
5 m away: `face_detection_full_range_sparse.tflite` in the `mediapipe==0.10.14` wheel (Apache-2.0), read out of the
file by `reference_impls/_tflite.py`; `python scripts/fetch_models.py` fetches it.

## The idea

- **A pruned production model.** Every 1×1 convolution but the heads is stored sparse: the file keeps only the
  non-zero weights with their indices, and a `DENSIFY` operator expands them when the model loads. The loader
  densifies them the same way (checked against LiteRT's own `DENSIFY` output), and the run measures the sparsity of
  every layer; the page's table comes from that measurement, not from the model card.
- **Bottleneck BlazeBlocks and a feature pyramid.** At 192×192 the backbone's residual blocks run depthwise 3×3,
  1×1 down to a quarter of the channels, depthwise 3×3 again and 1×1 back up; four stride-2 stages reach 6×6, and a
  top-down path (1×1, bilinear ×2, add the lateral 1×1 of the same size) returns to 48×48, as in FPN.
- **One anchor per cell of the 48×48 map** (2,304): each head ends in a stride-2 depthwise convolution whose
  channels `DEPTH_TO_SPACE` unfolds back to 48×48 (TensorFlow's channel order, which PyTorch's `pixel_shuffle`
  does not share, so `depth_to_space` below reorders first).

## What our run measured

`python -m reference_impls.face_detector_full_sparse` runs the port and the shipped file through LiteRT on the
same real photographs and face-set composites, and records the largest raw difference, the share of the
original's detections the port reproduces, recall and precision for both, the latency of both alternated call by
call, and the per-layer sparsity with the file's size against a dense copy; the page's tables come from that file.

## Which block int8 hurts

Quantized whole, this detector keeps fewer of the original's detections than the front-camera one does (the int8
rows of the table above). The full run measures where the loss comes from: it quantizes the port with one block
at a time left in fp32 (`blocks`, `pt2e_int8(keep=...)`) and scores each copy against the original on composites
built with another seed, never on a test image (`_pt2e.sensitivity`, the `int8_sensitivity` table). It then
quantizes the port for every runtime again with the most sensitive block kept in fp32 (`export_port(keep=...)`)
and scores those files on the test images like the all-int8 ones (`int8_mixed`): their agreement, size and
speed-up over each runtime's fp32 file show what that one block costs and buys.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from reference_impls import _detection as det
from reference_impls import _shipped, _tflite
from reference_impls._registry import Versus, experiment, experiment_cli, register

if TYPE_CHECKING:
    from reference_impls._shipped_bench import Exported

FILE = "face_detection_full_range_sparse.tflite"
SIZE = 192
OPTIONS = det.SsdOptions(input_size=SIZE, strides=(4,), interpolated_scale_aspect_ratio=0.0, min_score=0.6)
# Bottom-up stages: (input channels or None for no downsampling, bottleneck, output channels, blocks, lateral).
STAGES = ((None, 8, 32, 2, 0), (32, 16, 64, 2, 48), (64, 32, 128, 2, 64), (128, 48, 192, 2, 96), (192, 96, 384, 3, 0))
# Top-down steps: (input channels, output = lateral channels, bottleneck, blocks).
TOP_DOWN = ((384, 96, 48, 2), (96, 64, 32, 2), (64, 48, 24, 1))


def dw(channels: int, stride: int = 1) -> nn.Conv2d:
    """A depthwise 3×3 after a 1-pixel zero pad, as the file's PAD + VALID convolution pairs compute."""
    return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels)


class Bottleneck(nn.Module):
    """Depthwise, 1×1 down to `mid` (ReLU), depthwise, 1×1 back up; plus the input, ReLU."""

    def __init__(self, channels: int, mid: int) -> None:
        super().__init__()
        self.dw1, self.reduce, self.dw2, self.expand = (
            dw(channels),
            nn.Conv2d(channels, mid, 1),
            dw(mid),
            nn.Conv2d(mid, channels, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """ReLU(x + expand(dw2(ReLU(reduce(dw1(x))))))."""
        return F.relu(x + self.expand(self.dw2(F.relu(self.reduce(self.dw1(x))))))


class Down(nn.Module):
    """The stride-2 entry of a stage: depthwise stride 2, 1×1 to `mid` (ReLU), depthwise, 1×1 to `c_out` (ReLU)."""

    def __init__(self, c_in: int, mid: int, c_out: int) -> None:
        super().__init__()
        self.dw1, self.reduce, self.dw2, self.expand = (
            dw(c_in, 2),
            nn.Conv2d(c_in, mid, 1),
            dw(mid),
            nn.Conv2d(mid, c_out, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """The downsampled, widened features."""
        return F.relu(self.expand(self.dw2(F.relu(self.reduce(self.dw1(x))))))


class Stage(nn.Module):
    """An optional `Down`, residual blocks, and the lateral 1×1 (ReLU) that the top-down path adds in."""

    def __init__(self, c_in: int | None, mid: int, c_out: int, blocks: int, lateral: int) -> None:
        super().__init__()
        self.down = Down(c_in, mid, c_out) if c_in else nn.Identity()
        self.blocks = nn.Sequential(*(Bottleneck(c_out, mid) for _ in range(blocks)))
        self.lateral = nn.Conv2d(c_out, lateral, 1) if lateral else None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The stage's output and its lateral features (None for a stage without)."""
        x = self.blocks(self.down(x))
        return x, F.relu(self.lateral(x)) if self.lateral is not None else None


class TopDown(nn.Module):
    """1×1 (ReLU), bilinear ×2, add the lateral features, residual blocks."""

    def __init__(self, c_in: int, c_out: int, mid: int, blocks: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(c_in, c_out, 1)
        self.blocks = nn.Sequential(*(Bottleneck(c_out, mid) for _ in range(blocks)))

    def forward(self, x: Tensor, lateral: Tensor) -> Tensor:
        """Finer features: the coarse map upsampled onto the lateral one."""
        up = F.interpolate(F.relu(self.reduce(x)), scale_factor=2, mode="bilinear", align_corners=False)
        return self.blocks(lateral + up)


def depth_to_space(x: Tensor, r: int) -> Tensor:
    """TensorFlow's DEPTH_TO_SPACE: output[c, h·r + i, w·r + j] = input[(i·r + j)·C + c, h, w]."""
    b, c, h, w = x.shape
    return x.view(b, r, r, c // (r * r), h, w).permute(0, 3, 4, 1, 5, 2).reshape(b, c // (r * r), h * r, w * r)


class Head(nn.Module):
    """1×1 to r²·k channels, a stride-2 depthwise, and depth-to-space back to the 48×48 map: k values per anchor."""

    def __init__(self, values: int) -> None:
        super().__init__()
        self.conv, self.dw = nn.Conv2d(48, 4 * values, 1), dw(4 * values, 2)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 2304, values) in the file's anchor order (row-major over the 48×48 map)."""
        y = depth_to_space(self.dw(self.conv(x)), 2)
        return y.permute(0, 2, 3, 1).reshape(x.shape[0], -1, y.shape[1])


class BlazeFaceFullRange(nn.Module):
    """(B, 3, 192, 192) in [-1, 1] -> regressors (B, 2304, 16) and classificators (B, 2304, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2, 1)
        self.stages = nn.ModuleList(Stage(*spec) for spec in STAGES)
        self.top_down = nn.ModuleList(TopDown(*spec) for spec in TOP_DOWN)
        self.score, self.box = Head(1), Head(16)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Raw box regressors and score logits for every anchor."""
        x, laterals = F.relu(self.stem(x)), []
        for stage in self.stages:
            x, lateral = stage(x)
            laterals.append(lateral)
        for step, lateral in zip(self.top_down, [laterals[3], laterals[2], laterals[1]], strict=True):
            x = step(x, lateral)
        return self.box(x), self.score(x)


PAPER_VS_OURS = (
    Versus(
        "Front-camera face detection average precision",
        "port.recall",
        scale=100,
        setting="the full-range (back-camera) model, recall at IoU 0.5 on our labelled face set, not AP",
        effect="our port finds exactly the faces the shipped model finds",
        holds=lambda m: m["port"]["recall"] == m["original"]["recall"],
    ),
    Versus(
        "Inference time on iPhone XS",
        "latency.executorch.port_p50_ms",
        setting="the 192×192 full-range model in ExecuTorch-XNNPACK on one core of the CPU the record names, not the "
        "iPhone XS GPU",
        effect="our port in ExecuTorch runs within 1.2× of the original in LiteRT on the same CPU",
        holds=lambda m: m["latency"]["executorch"]["latency_ratio_vs_reference"] <= 1.2,
    ),
)


@register(
    "face_detector_full_sparse",
    arxiv="1907.05047",
    catalog_id="bazarevsky2019blazeface",
    input_shape=(1, 3, SIZE, SIZE),
    task="detection",
    versus=PAPER_VS_OURS,
)
def face_detector_full_sparse(weights: bool = True) -> nn.Module:
    """The port with the shipped (densified) weights (`weights=False`: the architecture alone)."""
    model = BlazeFaceFullRange().eval()
    if weights:
        _tflite.load(model, _tflite.Graph(_shipped.model_path(FILE)).weights())
    return model


def runner(runtime: str = "port", model: nn.Module | None = None) -> Any:
    """`raw(nhwc) -> (regressors, classificators)` for our port (eager PyTorch) or the original in LiteRT."""
    return det.raw_runner(runtime, FILE, ("Identity", "Identity_1"), face_detector_full_sparse, model)


def detect(raw: tuple[np.ndarray, ...]) -> list[dict[str, Any]]:
    """Decoded, blended detections (in [0, 1] of the input) from the two raw outputs."""
    return det.weighted_nms(*det.decode(*raw, OPTIONS), OPTIONS)


@functools.cache
def _runner(runtime: str) -> Any:
    return runner(runtime)


def run_image(path: str | Path, runtime: str = "port") -> dict[str, Any]:
    """Faces in one image file: boxes (xmin, ymin, xmax, ymax), 6 keypoints and scores, in the image's pixels."""
    x, box = det.letterbox(path, SIZE)
    found = det.in_pixels(detect(_runner(runtime)(x)), box, SIZE)
    return {"image": str(path), "width": box.width, "height": box.height, "runtime": runtime, "detections": found}


def blocks(model: BlazeFaceFullRange) -> dict[str, tuple[str, ...]]:
    """The units of the int8 sensitivity sweep: the stem, each stage, each top-down step, the two heads together."""
    stages = {f"stages.{i}": (f"model.stages.{i}",) for i in range(len(model.stages))}
    steps = {f"top_down.{i}": (f"model.top_down.{i}",) for i in range(len(model.top_down))}
    # Paths under `Named`, which wraps the port for export and quantization.
    return {"stem": ("model.stem",)} | stages | steps | {"heads": ("model.score", "model.box")}


def int8_mixed(
    model: BlazeFaceFullRange,
    cal: Tensor,
    nchw: np.ndarray,
    score: Callable[[list[Any]], dict[str, Any]],
    exported: dict[str, Exported],
    folder: Path,
    runs: int,
    seed: int,
) -> dict[str, Any]:
    """The sweep on validation composites, then every runtime's int8 with the most sensitive block kept in fp32.

    The block is picked on composites built with another seed (`seed + 1`) before any test image is looked at;
    `_shipped_bench.int8_kept` rebuilds each runtime's int8 file with it and scores them on the test images `nchw`
    exactly as the all-int8 files are scored.
    """
    from reference_impls import _face_set, _shipped_bench
    from reference_impls._export import Named, outputs
    from reference_impls._pt2e import sensitivity

    composites = _face_set.build(len(cal), seed + 1, calibration=True).images
    validation = np.concatenate([det.letterbox(i, SIZE)[0] for i in composites])
    reference = [detect(_runner("original")(x[None])) for x in validation]
    batch = torch.from_numpy(det.nchw(validation))

    def agreement(quantized: nn.Module) -> float:
        return det.agreement(reference, [detect(tuple(outputs(quantized(x[None])))) for x in batch])

    rows = sensitivity(Named(model), cal, blocks(model), agreement)
    chosen = max(rows[1:], key=lambda row: row["agreement"])["kept_in_fp32"]
    kept = _shipped_bench.int8_kept(model, cal, blocks(model)[chosen], exported, folder, nchw, score, runs)
    return {"kept_in_fp32": chosen, "sensitivity": rows} | kept


def sparsity_table() -> dict[str, Any]:
    """The measured sparsity of every weight tensor of the shipped file, and the share of weights it stores."""
    rows = _tflite.sparsity(_shipped.model_path(FILE))
    sparse = [r for r in rows if r["stored"].endswith("sparse")]
    return {
        "weight_tensors": len(rows),
        "sparse_tensors": len(sparse),
        "sparse_tensor_ops": sorted({r["op"] for r in sparse}),
        "sparse_layer_sparsity_min": min(r["sparsity"] for r in sparse),
        "sparse_layer_sparsity_max": max(r["sparsity"] for r in sparse),
        "sparse_layer_weights_share": sum(r["dense_values"] for r in sparse) / sum(r["dense_values"] for r in rows),
        "stored_values": sum(r["stored_values"] for r in rows),
        "dense_values": sum(r["dense_values"] for r in rows),
        "rows": rows,
    }


PHOTOS = ("astronaut.png", "coffee.png", "camera.png", "chelsea.png", "rocket.jpg", "grace_hopper.jpg")


@experiment("face_detector_full_sparse")
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Parity, agreement, recall/precision, latency beside the original, int8 and sparsity, on real photographs."""
    import tempfile

    from reference_impls import _face_set, _shipped_bench, blazeface_front

    torch.manual_seed(seed)
    n_faces, n_calibration, runs = (10, 8, 30) if quick else (200, 128, 200)
    runtimes = ("onnxruntime",) if quick else _shipped_bench.RUNTIMES
    model, original = face_detector_full_sparse(), _runner("original")
    images = [det.letterbox(_shipped.photo(name), SIZE) for name in PHOTOS]
    faces = _face_set.build(n_faces, seed, blazeface_front.detect_faces)
    truths = []
    for image, boxes in zip(faces.images, faces.boxes, strict=True):
        x, box = det.letterbox(image, SIZE)
        images.append((x, box))
        truths.append((boxes.reshape(-1, 2, 2) * box.scale + [box.pad_x, box.pad_y]).reshape(-1, 4) / SIZE)
    inputs = np.concatenate([x for x, _ in images])
    theirs = [original(x[None]) for x in inputs]
    ours = [runner("port", model)(x[None]) for x in inputs]
    reference, labelled = [detect(t) for t in theirs], slice(len(PHOTOS), None)

    def agreement(raw: list[tuple[np.ndarray, ...]], keypoints: float = det.KEYPOINT_TOLERANCE) -> float:
        return det.agreement(reference, [detect(r) for r in raw], keypoints)

    def score(int8: list[tuple[np.ndarray, ...]]) -> dict[str, float]:
        return {"agreement": agreement(int8), "box_agreement": agreement(int8, np.inf)}

    result: dict[str, Any] = {
        "images": len(inputs),
        "photographs": list(PHOTOS),
        "anchors": int(det.anchors(OPTIONS).shape[0]),
        "reference_max_abs_diff": max(map(_shipped_bench.max_abs_diff, theirs, ours)),
        "reference_detections": sum(map(len, reference)),
        "reference_agreement": agreement(ours),
        "face_set_images": len(truths),
        "original": det.recall_precision(reference[labelled], truths),
        "port": det.recall_precision([detect(o) for o in ours][labelled], truths),
        "file_bytes": _shipped.model_path(FILE).stat().st_size,
        "int8": {"calibration_images": n_calibration},
    }
    calibration = _face_set.build(n_calibration, seed, calibration=True).images
    cal = torch.from_numpy(det.nchw(np.concatenate([det.letterbox(i, SIZE)[0] for i in calibration])))
    nchw = det.nchw(inputs)
    with tempfile.TemporaryDirectory(prefix="full-sparse-") as tmp:
        exported = _shipped_bench.export_port(model, cal, Path(tmp), runtimes)
        result["latency"] = _shipped_bench.latency_table(
            exported, _shipped.model_path(FILE), nchw[:1], runs, threads=(1,) if quick else (1, 2)
        )
        _shipped_bench.score_exports(result, exported, nchw, ours, score)
        if not quick:
            result["coreml"] = _shipped_bench.coreml(model, cal[:1], Path(tmp))
            mixed = int8_mixed(model, cal, nchw, score, exported, Path(tmp) / "mixed", runs, seed)
            result["tables"] = {"int8_sensitivity": mixed.pop("sensitivity")}
            result["int8_mixed"] = mixed
    _shipped_bench.headline(result, runtimes)
    table = sparsity_table()
    result.setdefault("tables", {})["sparsity"] = table.pop("rows")
    result["sparsity"] = table
    return result


if __name__ == "__main__":
    experiment_cli(run, __doc__, "10 composites, ONNX Runtime only, 30 timed pairs")
