"""Measuring a port against the shipped `.tflite` it came from: runtimes side by side, and int8 of the port.

The port is exported through the harness (`export.py`) to ONNX Runtime and to ExecuTorch with XNNPACK, and
quantized to int8 for each, calibrated on images that are not test images: ONNX Runtime's static quantization
(QDQ, per-channel int8 weights, uint8 activations; `quantization.ort_static_int8`) and PT2E with the XNNPACK
quantizer (per-channel symmetric weights, per-tensor activations), lowered to ExecuTorch.

Latency pairs each runtime running our port with LiteRT running the original file, at one thread and at two,
timed call by call alternately (`measure.paired_latency`), so that the ratio ours ÷ original stays steady on a shared
machine. LiteRT runs the shipped file with its default XNNPACK delegate, so both sides use XNNPACK kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_impls import _tflite
from reference_impls._export import Named, load_onnxruntime, load_pte, to_onnx, to_pte
from reference_impls._measure import paired_latency

Runner = Callable[[np.ndarray], list[np.ndarray]]
RUNTIMES = ("onnxruntime", "executorch")


@dataclass
class Exported:
    """One runtime's fp32 and int8 files of the port, loaded at one thread, and how to load them at more."""

    fp32_path: Path
    int8_path: Path
    loader: Callable[[Path, int], Runner]

    def __post_init__(self) -> None:
        self.fp32, self.int8 = self.loader(self.fp32_path, 1), self.loader(self.int8_path, 1)
        self.fp32_bytes, self.int8_bytes = self.fp32_path.stat().st_size, self.int8_path.stat().st_size


@torch.no_grad()
def _pt2e_int8(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(model, (calibration[:1],)).module(), quantizer)
    for image in calibration:
        prepared(image[None])
    return convert_pt2e(prepared)


@torch.no_grad()
def export_port(
    model: nn.Module, calibration: torch.Tensor, folder: Path, runtimes: Sequence[str] = RUNTIMES
) -> dict[str, Exported]:
    """The port in each of `runtimes`, fp32 and int8 (calibrated on `calibration`, (N, C, H, W)), under `folder`."""
    from reference_impls.quantization import ort_static_int8

    wrapped, example = Named(model.eval()).eval(), calibration[:1]
    found = {}
    if "onnxruntime" in runtimes:
        fp32, int8 = folder / "port.onnx", folder / "port_int8.onnx"
        to_onnx(wrapped, example, fp32)
        ort_static_int8(str(fp32), str(int8), calibration)
        found["onnxruntime"] = Exported(fp32, int8, load_onnxruntime)
    if "executorch" in runtimes:
        fp32, int8 = folder / "port.pte", folder / "port_int8.pte"
        to_pte(wrapped, example, fp32)
        to_pte(_pt2e_int8(wrapped, calibration), example, int8)
        found["executorch"] = Exported(fp32, int8, load_pte)
    return found


def max_abs_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """The largest absolute difference between two lists of outputs."""
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def latency_table(
    exported: dict[str, Exported], original: Path, nchw: np.ndarray, runs: int, threads: Sequence[int] = (1, 2)
) -> dict[str, Any]:
    """Per runtime: the port beside the original in LiteRT, and its int8 copy beside its fp32 one.

    The figures at one thread sit at the top of each runtime's record, those at more threads under `threads_<n>`.
    ExecuTorch is timed at one thread only: its Python runtime has one thread pool for the whole process, and
    resizing it (`_unsafe_reset_threadpool`) under programs already loaded crashes the process.
    """
    nhwc = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    table: dict[str, Any] = {"original_bytes": original.stat().st_size, "threads": list(threads), "runs": runs}
    for n in sorted(threads):
        reference = _tflite.interpreter_runner(original, threads=n)
        for name, port in exported.items():
            if n > 1 and name == "executorch":
                continue
            fp32_run, int8_run = port.loader(port.fp32_path, n), port.loader(port.int8_path, n)
            ours, theirs = paired_latency(lambda f=fp32_run: f(nchw), lambda r=reference: r(nhwc), runs=runs)
            int8, fp32 = paired_latency(lambda q=int8_run: q(nchw), lambda f=fp32_run: f(nchw), runs=runs)
            figures = {
                "port_p50_ms": ours,
                "original_p50_ms": theirs,
                "latency_ratio_vs_reference": ours / theirs,
                "port_fps": 1e3 / ours,
                "original_fps": 1e3 / theirs,
                "int8_p50_ms": int8,
                "int8_speedup": fp32 / int8,
            }
            record = table.setdefault(name, {"fp32_bytes": port.fp32_bytes, "int8_bytes": port.int8_bytes})
            if n == 1:
                record.update(figures)
            else:
                record[f"threads_{n}"] = figures
    return table
