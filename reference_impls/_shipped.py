"""The shipped models and photographs: where they come from, where they are cached, and how to fetch them.

MediaPipe's LiteRT models and scikit-image's sample photographs come out of their wheels on the package registry
(`reference_impls/models.txt` pins the wheels by sha256; `FILES` pins every extracted file). Neither package is
installed: `python scripts/fetch_models.py` runs `pip download --no-deps` into a temporary folder and extracts
only these files into the cache, `.cache/models/` at the top of the project or the folder `KB_MODEL_CACHE` names.
The cache holds a `.gitignore` of `*`, so nothing in it is ever committed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from kb import paths

REQUIREMENTS = paths.REFERENCE_IMPLS / "models.txt"
FETCH_COMMAND = "python scripts/fetch_models.py"
# The wheels' tags: any platform's wheel holds the same model files, so one is chosen for every machine.
PIP_TARGET = ("--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64")

# name in the cache -> (wheel distribution, path inside the wheel, sha256 of the file)
FILES: dict[str, tuple[str, str, str]] = {
    "face_detection_short_range.tflite": (
        "mediapipe",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "face_detection_full_range_sparse.tflite": (
        "mediapipe",
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    ),
    "selfie_segmentation.tflite": (
        "mediapipe",
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    ),
    "face_landmark.tflite": (
        "mediapipe",
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
    "astronaut.png": (
        "scikit_image",
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    ),
    "camera.png": (
        "scikit_image",
        "skimage/data/camera.png",
        "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    ),
    "coffee.png": (
        "scikit_image",
        "skimage/data/coffee.png",
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    ),
    "chelsea.png": (
        "scikit_image",
        "skimage/data/chelsea.png",
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    ),
    "rocket.jpg": (
        "scikit_image",
        "skimage/data/rocket.jpg",
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    ),
    # Calibration backgrounds only: no implementation tests on these, so no test pixel is ever calibrated on.
    "motorcycle_left.png": (
        "scikit_image",
        "skimage/data/motorcycle_left.png",
        "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    ),
    "grass.png": (
        "scikit_image",
        "skimage/data/grass.png",
        "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    ),
    "brick.png": (
        "scikit_image",
        "skimage/data/brick.png",
        "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
    ),
    "lfw_subset.npy": (
        "scikit_image",
        "skimage/data/lfw_subset.npy",
        "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c",
    ),
}


class MissingModel(FileNotFoundError):
    """A shipped file is not in the cache; the message names the command that fetches it."""


def cache_dir() -> Path:
    """The cache folder: `KB_MODEL_CACHE` when set, else `.cache/models/` at the top of the project."""
    return Path(os.environ.get("KB_MODEL_CACHE") or paths.MODEL_CACHE)


def sha256(path: Path) -> str:
    """The sha256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(name: str) -> Path:
    """The cached path of a shipped file of `FILES`; a one-line `MissingModel` error when it is not there."""
    if name not in FILES:
        raise KeyError(f"no shipped file {name!r}; known: {', '.join(sorted(FILES))}")
    path = cache_dir() / name
    if not path.is_file():
        raise MissingModel(f"{path} is missing: fetch the shipped models with `{FETCH_COMMAND}`")
    return path


def available() -> bool:
    """Whether every file of `FILES` is in the cache (tests skip without them)."""
    return all((cache_dir() / name).is_file() for name in FILES)


def photo(name: str) -> Path:
    """A real photograph: scikit-image's from the cache, or matplotlib's installed `grace_hopper.jpg`."""
    if name == "grace_hopper.jpg":
        from matplotlib import cbook

        return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    return model_path(name)


def fetch(target: Path | None = None) -> list[Path]:
    """Download the pinned wheels with pip, extract the files of `FILES` into `target`, and check their sha256."""
    target = target or cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    (target / ".gitignore").write_text("*\n")
    if all((target / name).is_file() and sha256(target / name) == digest for name, (*_, digest) in FILES.items()):
        return [target / name for name in FILES]
    with tempfile.TemporaryDirectory(prefix="kb-wheels-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes", *PIP_TARGET]
        subprocess.run([*command, "-r", str(REQUIREMENTS), "-d", tmp, "--quiet"], check=True)
        wheels = {path.name.split("-")[0]: path for path in Path(tmp).glob("*.whl")}
        written = []
        for name, (distribution, member, digest) in FILES.items():
            with zipfile.ZipFile(wheels[distribution]) as wheel:
                data = wheel.read(member)
            if hashlib.sha256(data).hexdigest() != digest:
                raise RuntimeError(f"{member} in {wheels[distribution].name} does not have the pinned sha256 {digest}")
            partial = target / (name + ".part")
            partial.write_bytes(data)
            os.replace(partial, target / name)
            written.append(target / name)
    return written
