"""A labelled face set built from shipped photographs, for measuring detectors without a face data set.

Each image is a crop of a photograph that shows no person (scikit-image's `coffee`, `chelsea` the cat and
`rocket`), 256×256, with real faces pasted at known positions and scales, so the boxes are known exactly:

- **LFW faces**: scikit-image's `lfw_subset` holds 100 grey 25×25 face crops (Labeled Faces in the Wild, cropped
  from eyebrows to chin) and 100 crops of non-faces. A face is upscaled to a side of 15% to 50% of the image; its
  box is the pasted square. One non-face crop is pasted beside it as a distractor, so precision means something.
- **Portraits**: the head and shoulders of `astronaut` and of matplotlib's `grace_hopper`, cut around the face
  that the shipped detector finds in the unmodified photograph and pasted at a new scale and place; the label is
  that detection moved with the crop. These faces measure the detector against its own answer under rescaling.

Faces 0–69 and non-faces 100–169 make test images, the rest calibration images for quantization. Calibration
composites take no portrait (those are cut from test photographs) and sit on photographs that no implementation
tests on (`motorcycle_left`, `grass`, `brick`), so no pixel of a test image is ever seen by a calibration step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from reference_impls import _shipped

BACKGROUNDS = ("coffee.png", "chelsea.png", "rocket.jpg")
# Calibration composites sit on other photographs, so that no pixel of a test image is calibrated on.
CALIBRATION_BACKGROUNDS = ("motorcycle_left.png", "grass.png", "brick.png")
IMAGE = 256
SCALES = (0.15, 0.5)  # face side as a fraction of the image side
TEST_FACES, CALIBRATION_FACES = range(0, 70), range(70, 100)


@dataclass
class FaceSet:
    """Images and their face boxes (N_i, 4) as (xmin, ymin, xmax, ymax) pixels; `kind` says where each came from."""

    images: list[Image.Image]
    boxes: list[np.ndarray]
    kinds: list[str]


def _crop(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = int(rng.integers(min(photo.size) // 2, min(photo.size) + 1))
    x0, y0 = (int(rng.integers(0, s - side + 1)) for s in photo.size)
    return photo.crop((x0, y0, x0 + side, y0 + side)).resize((IMAGE, IMAGE), Image.Resampling.BILINEAR)


def grey_face(crop: np.ndarray, side: int) -> Image.Image:
    """An LFW crop (grey, values in [0, 1]) as an RGB image of `side`×`side` pixels."""
    return Image.fromarray((crop * 255).astype(np.uint8)).convert("RGB").resize((side, side), Image.Resampling.BICUBIC)


def portraits(detect: Callable[[Image.Image], list[dict]]) -> list[tuple[Image.Image, np.ndarray]]:
    """Head-and-shoulders crops of the two portraits with the face box inside each crop, from `detect`."""
    found = []
    for name in ("astronaut.png", "grace_hopper.jpg"):
        photo = Image.open(_shipped.photo(name)).convert("RGB")
        box = np.array(max(detect(photo), key=lambda d: d["score"])["box"])
        centre, side = (box[:2] + box[2:]) / 2, 2.2 * float(np.max(box[2:] - box[:2]))
        corner = np.clip(centre - side / 2, 0, None)
        region = tuple(int(v) for v in (*corner, *(corner + side)))
        found.append((photo.crop(region), box - np.array(region[:2] * 2)))
    return found


def build(
    n: int, seed: int, detect: Callable[[Image.Image], list[dict]] | None = None, *, calibration: bool = False
) -> FaceSet:
    """`n` composite images: a fifth with a portrait, the rest with an LFW face and a distractor.

    Calibration sets (`calibration=True`) take no portrait, since the portraits are cut from test photographs, and
    need no `detect`.
    """
    rng = np.random.default_rng(seed + (1_000 if calibration else 0))
    lfw = np.load(_shipped.model_path("lfw_subset.npy"))
    faces = CALIBRATION_FACES if calibration else TEST_FACES
    backgrounds = CALIBRATION_BACKGROUNDS if calibration else BACKGROUNDS
    photos = [Image.open(_shipped.photo(name)).convert("RGB") for name in backgrounds]
    heads = [] if calibration or detect is None else portraits(detect)
    images, boxes, kinds = [], [], []
    for i in range(n):
        canvas = _crop(photos[i % len(photos)], rng)
        side = int(IMAGE * rng.uniform(*SCALES))
        if i % 5 == 4 and heads:
            head, face = heads[int(rng.integers(len(heads)))]
            scale = side / float(np.max(face[2:] - face[:2]))
            head = head.resize((max(1, round(head.width * scale)), max(1, round(head.height * scale))))
            face = face * scale
            x0, y0 = (int(rng.integers(-int(face[k]), max(1, IMAGE - int(face[k + 2])))) for k in (0, 1))
            canvas.paste(head, (x0, y0))
            truth, kind = face + np.array([x0, y0, x0, y0]), "portrait"
        else:
            x0, y0 = (int(v) for v in rng.integers(0, IMAGE - side, 2))
            canvas.paste(grey_face(lfw[int(rng.choice(faces))], side), (x0, y0))
            other = int(rng.integers(24, IMAGE // 3))
            beside = [x for x in (x0 + side + 4, x0 - other - 4) if 0 <= x <= IMAGE - other]
            if beside:  # a distractor only where it fits without covering the face
                distractor = grey_face(lfw[100 + int(rng.choice(faces))], other)
                canvas.paste(distractor, (beside[0], int(rng.integers(0, IMAGE - other))))
            truth, kind = np.array([x0, y0, x0 + side, y0 + side], float), "lfw"
        images.append(canvas)
        boxes.append(truth[None].astype(np.float32))
        kinds.append(kind)
    return FaceSet(images, boxes, kinds)
