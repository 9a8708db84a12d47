r"""Face mesh, the shipped one: MediaPipe's 468-landmark face model ported to PyTorch from its `.tflite`.

*Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs*, Kartynnik et al., 2019,
[arXiv:1907.06724](https://arxiv.org/abs/1907.06724). The weights are those of `face_landmark.tflite` in the
`mediapipe==0.10.14` wheel (Apache-2.0), read out of the file by `reference_impls/_tflite.py`;
`python scripts/fetch_models.py` fetches it.

## The idea

- **One trunk, two tasks.** A BlazeFace-like residual trunk (depthwise 3×3, 1×1, max-pooled zero-padded shortcut,
  PReLU) brings a 192×192 face crop down to 6×6×128; there it forks into a mesh head that regresses 468 3-D
  landmarks (x, y in crop pixels, z relative depth) and a small head that scores whether a face is in the crop at
  all, which lets a video pipeline re-run the detector only when the face is lost.
- **Tracking crops instead of detecting every frame**: the crop comes from the face detector (here: our BlazeFace
  port, or the original for `--runtime original`), enlarged 1.5× around its box. MediaPipe also rotates the crop
  so that the eyes are level; we do not, so a tilted head is measured as it is.

## The key equation

Agreement with the original is $1 - \overline{\lVert p_i - \hat p_i \rVert} / d_{\mathrm{eyes}}$, the mean 2-D
landmark error over the inter-ocular distance (outer eye corners, landmarks 33 and 263), the normalisation of
face-alignment benchmarks.

## What our run measured

`python -m reference_impls.face_mesh` runs the port and the shipped file through LiteRT on face crops of real
photographs and records the largest raw difference, the landmark agreement, the face scores, their latencies
alternated call by call, the int8 port's agreement, and the MACs of the trunk and of each head; the page's
tables are generated from that results file. Its ONNX file writes every PReLU and the shortcuts' channel pads as
1×1 convolutions, which keeps ONNX Runtime in its blocked layout from end to end; `onnx_rewrite` times the file
with and without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from reference_impls import _shipped, _tflite
from reference_impls._registry import Versus, experiment, experiment_cli, register

FILE = "face_landmark.tflite"
SIZE = 192
TRUNK = ((16, 16, 1), (16, 16, 1), (16, 32, 2), (32, 32, 1), (32, 32, 1), (32, 64, 2), (64, 64, 1), (64, 64, 1))
TRUNK += ((64, 128, 2), (128, 128, 1), (128, 128, 1), (128, 128, 2), (128, 128, 1), (128, 128, 1))
# ONNX Runtime keeps the whole trunk in its blocked layout once PReLU and the shortcuts' channel pads are 1×1
# convolutions (`export.to_onnx`); the record's `onnx_rewrite` times the file with and without them.
ONNX_CONVOLUTIONS = ("PRelu", "Pad")
EYES = (33, 263)  # outer corners of the right and left eye in MediaPipe's canonical mesh
ROI_SCALE = 1.5


class Block(nn.Module):
    """Depthwise 3×3, 1×1, plus the (max-pooled, zero-padded) input, then PReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, stride, groups=c_in)
        self.pointwise = nn.Conv2d(c_in, c_out, 1)
        self.act = nn.PReLU(c_out)
        self.stride, self.pad = stride, c_out - c_in

    def forward(self, x: Tensor) -> Tensor:
        """PReLU(pointwise(depthwise(x)) + shortcut(x))."""
        y = self.pointwise(self.depthwise(_tflite.same_pad(x, 3, self.stride)))
        shortcut = F.max_pool2d(x, 2, 2) if self.stride == 2 else x
        if self.pad:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.pad))
        return self.act(y + shortcut)


class Head(nn.Module):
    """A task head on the 6×6 trunk: stride-2 blocks to 3×3, a 1×1 to 32 channels, a block, a 3×3 to the outputs."""

    def __init__(self, blocks: int, outputs: int) -> None:
        super().__init__()
        self.blocks = nn.Sequential(Block(128, 128, 2), *(Block(128, 128) for _ in range(blocks - 1)))
        self.reduce, self.act = nn.Conv2d(128, 32, 1), nn.PReLU(32)
        self.refine = Block(32, 32)
        self.out = nn.Conv2d(32, outputs, 3, 3)

    def forward(self, x: Tensor) -> Tensor:
        """(B, outputs), from a (B, 128, 6, 6) trunk."""
        return self.out(self.refine(self.act(self.reduce(self.blocks(x))))).flatten(1)


class FaceMesh(nn.Module):
    """(B, 3, 192, 192) RGB in [0, 1] -> landmarks (B, 1404) as 468 × (x, y, z) and the face-presence logit (B, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.stem_act = nn.Conv2d(3, 16, 3, 2), nn.PReLU(16)
        self.trunk = nn.Sequential(*(Block(*spec) for spec in TRUNK))
        self.mesh = Head(blocks=3, outputs=468 * 3)
        self.face = Head(blocks=1, outputs=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Both tasks from one trunk pass."""
        features = self.trunk(self.stem_act(self.stem(_tflite.same_pad(x, 3, 2))))
        return self.mesh(features), self.face(features)


PAPER_VS_OURS = (
    Versus(
        "Inference speed on mobile GPUs",
        "latency.executorch.port_fps",
        setting="frames per second of our port in ExecuTorch-XNNPACK on one core of the CPU the record names, not a "
        "phone GPU",
        effect="our port in ExecuTorch runs within 1.2× of the original in LiteRT on the same CPU",
        holds=lambda m: m["latency"]["executorch"]["latency_ratio_vs_reference"] <= 1.2,
    ),
)


@register(
    "face_mesh",
    arxiv="1907.06724",
    catalog_id="kartynnik2019real",
    input_shape=(1, 3, SIZE, SIZE),
    task="landmarks",
    versus=PAPER_VS_OURS,
)
def face_mesh(weights: bool = True) -> nn.Module:
    """The port with the shipped weights (`weights=False`: the architecture alone, randomly initialised)."""
    model = FaceMesh().eval()
    if weights:
        _tflite.load(model, _tflite.Graph(_shipped.model_path(FILE)).weights(per_output=True))
    return model


def crop(image: Image.Image, box: list[float]) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The square crop around a face box, enlarged 1.5×, as (1, 192, 192, 3) in [0, 1]; and (x0, y0, side)."""
    x0, y0, x1, y1 = box
    side = round(ROI_SCALE * max(x1 - x0, y1 - y0))
    left, top = round((x0 + x1 - side) / 2), round((y0 + y1 - side) / 2)
    # `crop` fills what lies outside the photograph with black, as MediaPipe's zero border does.
    patch = (
        image.convert("RGB").crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.Resampling.BILINEAR)
    )
    return np.asarray(patch, dtype=np.float32)[None] / 255.0, (left, top, side)


def runner(runtime: str = "port", model: nn.Module | None = None) -> Any:
    """`raw(nhwc) -> (landmarks (1, 1404), face logit (1, 1))` from our port or the original in LiteRT."""
    if runtime == "original":
        interpreter = _tflite.interpreter_runner(_shipped.model_path(FILE))
        return lambda x: tuple(v.reshape(1, -1) for v in interpreter(x).values())
    if runtime != "port":
        raise ValueError(f"runtime must be 'port' or 'original', not {runtime!r}")
    model = model or face_mesh()

    def raw(x: np.ndarray) -> tuple[np.ndarray, ...]:
        with torch.no_grad():
            return tuple(t.numpy() for t in model(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))))

    return raw


def landmarks(raw: tuple[np.ndarray, ...]) -> np.ndarray:
    """(468, 3) landmarks in crop pixels (z in the same scale, relative to the face's centre)."""
    return raw[0].reshape(468, 3)


def agreement(reference: np.ndarray, ours: np.ndarray) -> float:
    """1 − mean 2-D landmark error ÷ inter-ocular distance of the reference."""
    eyes = float(np.linalg.norm(reference[EYES[0], :2] - reference[EYES[1], :2]))
    return 1.0 - float(np.linalg.norm(reference[:, :2] - ours[:, :2], axis=1).mean()) / eyes


def run_image(path: str | Path, runtime: str = "port") -> dict[str, Any]:
    """Landmarks in the image's pixels and the face score, for the highest-scoring face that BlazeFace finds."""
    from reference_impls import blazeface_front

    image = Image.open(path).convert("RGB")
    faces = blazeface_front.run_image(path, runtime)["detections"]
    result: dict[str, Any] = {"image": str(path), "width": image.width, "height": image.height, "runtime": runtime}
    if not faces:
        return {**result, "faces": 0, "landmarks": [], "face_score": None}
    x, (left, top, side) = crop(image, max(faces, key=lambda d: d["score"])["box"])
    raw = runner(runtime)(x)
    points = landmarks(raw) * (side / SIZE) + np.array([left, top, 0.0])
    score = float(1 / (1 + np.exp(-float(raw[1].ravel()[0]))))
    return {**result, "faces": len(faces), "landmarks": points.round(2).tolist(), "face_score": score}


PHOTOS = ("astronaut.png", "grace_hopper.jpg", "camera.png")


def face_crops(n: int, seed: int, *, calibration: bool = False) -> tuple[list[str], np.ndarray]:
    """Names and 192×192 face crops of real photographs and of face-set composites.

    The photographs' faces are found by the shipped BlazeFace (not when calibrating); the composites are cropped
    around their known boxes, and calibration composites use other LFW faces than test ones.
    """
    from reference_impls import _face_set, blazeface_front

    names, crops = [], []
    if not calibration:
        for name in PHOTOS:
            image = Image.open(_shipped.photo(name)).convert("RGB")
            box = max(blazeface_front.detect_faces(image), key=lambda d: d["score"])["box"]
            names.append(name)
            crops.append(crop(image, box)[0])
    faces = _face_set.build(n, seed, None if calibration else blazeface_front.detect_faces, calibration=calibration)
    for i, (image, boxes) in enumerate(zip(faces.images, faces.boxes, strict=True)):
        names.append(f"face_set[{i}]:{faces.kinds[i]}")
        crops.append(crop(image, boxes[0].tolist())[0])
    return names, np.concatenate(crops)


def macs_by_part(model: FaceMesh) -> dict[str, int]:
    """Multiply-accumulates of the shared trunk and of each head, from the layers' shapes (`measure.count_macs`)."""
    from reference_impls._measure import count_macs

    features = torch.zeros(1, 128, SIZE // 32, SIZE // 32)
    heads = {"mesh_head": count_macs(model.mesh, features), "face_head": count_macs(model.face, features)}
    total = count_macs(model, torch.zeros(1, 3, SIZE, SIZE))
    return {"trunk": total - sum(heads.values()), **heads}


@experiment("face_mesh")
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Parity and landmark agreement against the shipped file on face crops, latency beside it, int8, MACs."""
    import tempfile

    from reference_impls import _shipped_bench

    torch.manual_seed(seed)
    n_faces, n_calibration, runs = (10, 8, 50) if quick else (60, 128, 300)
    runtimes = ("onnxruntime",) if quick else _shipped_bench.RUNTIMES
    model, original = face_mesh(), runner("original")
    names, inputs = face_crops(n_faces, seed)
    theirs = [original(x[None]) for x in inputs]
    ours = [runner("port", model)(x[None]) for x in inputs]
    agreements = [agreement(landmarks(t), landmarks(o)) for t, o in zip(theirs, ours, strict=True)]
    scores = [float(1 / (1 + np.exp(-t[1].ravel()[0]))) for t in theirs]
    nchw = np.ascontiguousarray(inputs.transpose(0, 3, 1, 2))
    macs = macs_by_part(model)
    result: dict[str, Any] = {
        "crops": len(names),
        "photographs": list(PHOTOS),
        "reference_max_abs_diff": max(map(_shipped_bench.max_abs_diff, theirs, ours)),
        "reference_agreement": float(np.mean(agreements)),
        "reference_agreement_min": min(agreements),
        "face_score_original_median": float(np.median(scores)),
        "face_score_max_abs_diff": max(
            abs(float(t[1].ravel()[0] - o[1].ravel()[0])) for t, o in zip(theirs, ours, strict=True)
        ),
        "macs": macs,
        "second_task_macs_fraction": macs["face_head"] / (macs["trunk"] + macs["mesh_head"]),
        "int8": {"calibration_images": n_calibration},
    }
    calibration = torch.from_numpy(
        np.ascontiguousarray(face_crops(n_calibration, seed, calibration=True)[1].transpose(0, 3, 1, 2))
    )

    def score(int8: list[tuple[np.ndarray, ...]]) -> dict[str, float]:
        pairs = list(zip(theirs, int8, strict=True))
        return {
            "agreement": float(np.mean([agreement(landmarks(t), landmarks(q)) for t, q in pairs])),
            "face_logit_max_abs_diff": max(abs(float(t[1].ravel()[0] - q[1].ravel()[0])) for t, q in pairs),
        }

    with tempfile.TemporaryDirectory(prefix="face-mesh-") as tmp:
        exported = _shipped_bench.export_port(
            model, calibration, Path(tmp), runtimes, as_convolutions=ONNX_CONVOLUTIONS
        )
        result["latency"] = _shipped_bench.latency_table(
            exported, _shipped.model_path(FILE), nchw[:1], runs, threads=(1,) if quick else (1, 2)
        )
        _shipped_bench.score_exports(result, exported, nchw, ours, score)
        if not quick:
            result["coreml"] = _shipped_bench.coreml(model, calibration[:1], Path(tmp))
            result["onnx_rewrite"] = _shipped_bench.onnx_rewrite(
                model, calibration[:1], ONNX_CONVOLUTIONS, Path(tmp), runs
            )
    _shipped_bench.headline(result, runtimes)
    return result


if __name__ == "__main__":
    experiment_cli(run, __doc__, "10 composites, ONNX Runtime only, 50 timed pairs")
