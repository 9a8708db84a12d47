"""Pictures on the pages of the shipped-model ports: what each port finds in real photographs.

`render_pictures()` runs every port that has a `run_image` (its module's entry point, the one `kb impl run` uses)
on scikit-image's and matplotlib's sample photographs, and returns per implementation a Markdown block with each
photograph and the port's outputs drawn over it in SVG: boxes and the six keypoints of the detectors, the 468
landmarks of the mesh, the segmenter's person mask as a tinted layer. Photograph and mask are embedded as data
URIs, so a page needs no other file and works offline. Everything is drawn at build time from the port's outputs
and nothing is committed; without the model files the block names the command that fetches them.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import io
import tempfile
from pathlib import Path
from typing import Any

PICTURED = {
    "blazeface_front": ("astronaut.png", "grace_hopper.jpg"),
    "face_detector_full_sparse": ("astronaut.png", "grace_hopper.jpg"),
    "face_mesh": ("astronaut.png", "grace_hopper.jpg"),
    "selfie_segmentation": ("astronaut.png", "grace_hopper.jpg"),
}
WIDTH = 480  # pixels of the drawn photograph; the SVG scales with the page
COLOUR = "#00e5ff"


def data_uri(image: Any, kind: str = "JPEG") -> str:
    """A PIL image as a `data:` URI (JPEG for photographs, PNG for masks)."""
    buffer = io.BytesIO()
    image.save(buffer, format=kind, **({"quality": 85} if kind == "JPEG" else {}))
    return f"data:image/{kind.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def marks(result: dict[str, Any], scale: float) -> list[str]:
    """SVG elements for a port's outputs in the photograph's pixels, scaled to the drawn width (numbers only)."""
    elements = []
    for found in result.get("detections", []):
        x0, y0, x1, y1 = (scale * float(v) for v in found["box"])
        elements.append(
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" fill="none" '
            f'stroke="{COLOUR}" stroke-width="2"/>'
        )
        elements += [
            f'<circle cx="{scale * float(x):.1f}" cy="{scale * float(y):.1f}" r="3" fill="{COLOUR}"/>'
            for x, y in found["keypoints"]
        ]
    elements += [
        f'<circle cx="{scale * float(p[0]):.1f}" cy="{scale * float(p[1]):.1f}" r="0.9" fill="{COLOUR}"/>'
        for p in result.get("landmarks", [])
    ]
    return elements


def mask_layer(path: str, size: tuple[int, int]) -> str:
    """The person mask as a tinted, half-transparent SVG image layer."""
    from PIL import Image

    alpha = Image.open(path).convert("L").resize(size)
    tint = Image.new("RGBA", size, (0, 229, 255, 0))
    tint.putalpha(alpha.point(lambda v: v // 2))
    return f'<image href="{data_uri(tint, "PNG")}" width="{size[0]}" height="{size[1]}"/>'


def figure(impl_id: str, photo: str) -> str:
    """One photograph with the port's outputs drawn over it, as an HTML figure."""
    from PIL import Image

    from reference_impls._registry import get
    from reference_impls._shipped import photo as photo_path

    path = photo_path(photo)
    run_image = importlib.import_module(get(impl_id).module).run_image
    image = Image.open(path).convert("RGB")
    scale = WIDTH / image.width
    size = (WIDTH, round(image.height * scale))
    layers = [f'<image href="{data_uri(image.resize(size))}" width="{size[0]}" height="{size[1]}"/>']
    with tempfile.TemporaryDirectory(prefix="kb-pictures-") as tmp:
        takes_out = "out" in inspect.signature(run_image).parameters  # the segmenter writes its mask to a file
        result = run_image(path, out=Path(tmp) / "mask.png") if takes_out else run_image(path)
        if "mask" in result:
            layers.append(mask_layer(result["mask"], size))
    layers += marks(result, scale)
    what = {
        "detections": f"{len(result.get('detections', []))} face(s) found",
        "landmarks": f"{len(result.get('landmarks', []))} landmarks",
        "mask": f"person mask, {result.get('foreground_fraction', 0):.0%} of the image",
    }
    caption = next(text for key, text in what.items() if key in result)
    return (
        f'<figure markdown="0"><svg viewBox="0 0 {size[0]} {size[1]}" width="{size[0]}" role="img" '
        f'aria-label="{photo}: {caption}">{"".join(layers)}</svg>'
        f"<figcaption>{photo}: {caption} by our port (drawn when the site was built)</figcaption></figure>\n"
    )


def render_pictures() -> dict[str, str]:
    """`{impl id: Markdown}` for every pictured port; a note naming `make models` when the files are missing."""
    blocks = {}
    for impl_id, photos in PICTURED.items():
        try:
            body = "\n".join(figure(impl_id, photo) for photo in photos)
        except FileNotFoundError:  # the shipped model files are not fetched
            body = "The pictures need the shipped model files: run `make models`, then build the site again.\n"
        blocks[impl_id] = "## What the port finds in real photographs\n\n" + body
    return blocks
