"""The file format of the compression modules: named byte streams behind a small JSON manifest.

Every compression ratio on the implementation pages is the size of one file of this format over the size of
another: the dense fp32 model (`dense_streams`) against the compressed one (relative-index gaps, int8 or clustered
values, codebooks, scales, biases), each written by `write` and read back by `read` before the decoded model is
scored again. Nothing is estimated from a formula, and the manifest's bytes count on both sides.

Layout, little-endian:

| bytes | what |
| --- | --- |
| 8 | magic `KBPACK01` |
| 4 | length *n* of the manifest |
| *n* | UTF-8 JSON: `{"meta": {...}, "streams": [{"name", "offset", "length"}, ...]}` |
| rest | the streams back to back, at the offsets the manifest names (relative to the end of the manifest) |
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

MAGIC = b"KBPACK01"


def write(path: Path, streams: dict[str, bytes], meta: dict[str, Any] | None = None) -> int:
    """Write `streams` (and JSON-serialisable `meta`) to `path` atomically; returns the file's size in bytes."""
    entries, offset = [], 0
    for name, data in streams.items():
        entries.append({"name": name, "offset": offset, "length": len(data)})
        offset += len(data)
    manifest = json.dumps({"meta": meta or {}, "streams": entries}, separators=(",", ":")).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, suffix=".tmp", delete=False) as tmp:
        tmp.write(MAGIC + struct.pack("<I", len(manifest)) + manifest)
        for data in streams.values():
            tmp.write(data)
    os.replace(tmp.name, path)
    return path.stat().st_size


def read(path: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The streams and the meta of a file written by `write`."""
    blob = path.read_bytes()
    if blob[:8] != MAGIC:
        raise ValueError(f"{path}: not a KBPACK01 file")
    (length,) = struct.unpack("<I", blob[8:12])
    manifest = json.loads(blob[12 : 12 + length])
    body = blob[12 + length :]
    streams = {e["name"]: body[e["offset"] : e["offset"] + e["length"]] for e in manifest["streams"]}
    return streams, manifest["meta"]


def write_dense(model: nn.Module, path: Path, **meta: Any) -> int:
    """Every tensor of `model`'s state dict as raw fp32 bytes (the uncompressed baseline); returns the file's size.

    For a model whose state dict is already its compressed form (HashedNets' buckets), this is its stored file.
    """
    streams, shapes = {}, {}
    for name, tensor in model.state_dict().items():
        streams[name] = tensor.detach().numpy().astype("<f4").tobytes()
        shapes[name] = list(tensor.shape)
    return write(path, streams, {"format": "dense-fp32", "shapes": shapes, **meta})


def load_dense(model: nn.Module, path: Path) -> nn.Module:
    """Load a file of `write_dense` into `model` (same architecture); every tensor must be in the file."""
    streams, meta = read(path)
    state = {name: torch.from_numpy(fp32(streams[name], shape)) for name, shape in meta["shapes"].items()}
    model.load_state_dict(state, strict=True)
    return model.eval()


def fp32(data: bytes, shape: list[int] | tuple[int, ...]) -> np.ndarray:
    """A stream of little-endian fp32 values as an array of `shape` (a writable copy)."""
    return np.frombuffer(data, dtype="<f4").reshape(shape).copy()
