"""Measuring a port against the shipped `.tflite` it came from: runtimes side by side, and int8 of the port.

The port is exported through the harness (`export.py`) to ONNX Runtime, to ExecuTorch with XNNPACK and to LiteRT
(litert-torch), and quantized to int8 for each, calibrated on images that are not test images: ONNX Runtime's
static quantization (QDQ, per-channel 8-bit weights of `quantization.ort_weight_type`, uint8 activations whose
ranges are the 0.001st to 99.999th percentiles of the calibration values, not their extremes), PT2E with
the XNNPACK quantizer (per-channel symmetric weights, per-tensor activations) lowered to ExecuTorch, and PT2E with
LiteRT's quantizer to a full-integer `.tflite`. A converter that fails is a result: the runtime's record says why.

Latency pairs each runtime running our port with LiteRT running the original file, at one thread and at two,
timed call by call alternately (`measure.paired_latency`), so that the ratio ours ÷ original stays steady on a shared
machine. LiteRT runs the shipped file with its default XNNPACK delegate, so both sides use XNNPACK kernels.
ExecuTorch's Python runtime has one thread pool per process, and resizing it under loaded programs crashes, so its
figures at more than one thread come from a fresh process (this module's `__main__`), as does every file's peak
memory: the rise of resident memory while a fresh process loads the file and runs it (`measure.file_peak_memory`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_impls import _tflite
from reference_impls._export import RUNTIME_LOADERS, Named, Runner, export, to_onnx, to_pte, to_tflite
from reference_impls._measure import file_peak_memory, onnxruntime_node_times, paired_latency, run_fresh
from reference_impls._pt2e import pt2e_int8

RUNTIMES = ("onnxruntime", "executorch", "litert")
# The runtime whose latency and int8 speed-up stand at the top of a record, fixed before any run (no best-of);
# every runtime's figures are in the record's latency table.
HEADLINE = "onnxruntime"


@dataclass
class Exported:
    """One runtime's fp32 and int8 files of the port, loaded at one thread; `note` says why an int8 file is missing."""

    runtime: str
    fp32_path: Path
    int8_path: Path | None
    note: str = ""

    def __post_init__(self) -> None:
        self.loader: Callable[[Path, int], Runner] = RUNTIME_LOADERS[self.runtime]
        self.fp32 = self.loader(self.fp32_path, 1)
        self.int8 = self.loader(self.int8_path, 1) if self.int8_path else None
        self.fp32_bytes = self.fp32_path.stat().st_size
        self.int8_bytes = self.int8_path.stat().st_size if self.int8_path else None


@torch.no_grad()
def export_port(
    model: nn.Module,
    calibration: torch.Tensor,
    folder: Path,
    runtimes: Sequence[str] = RUNTIMES,
    keep: Sequence[str] = (),
) -> dict[str, Exported]:
    """The port in each of `runtimes`, fp32 and int8 (calibrated on `calibration`, (N, C, H, W)), under `folder`.

    `keep` names submodules (paths under `Named`, as `_pt2e.keep_float` takes them) that stay fp32 in every
    runtime's int8 file: PT2E leaves them unannotated for ExecuTorch and LiteRT, and ONNX Runtime's quantizer
    excludes the ONNX nodes they produced.
    """
    from reference_impls.quantization import ort_static_int8

    wrapped, example = Named(model.eval()).eval(), calibration[:1]
    found = {}
    if "onnxruntime" in runtimes:
        fp32, int8 = folder / "port.onnx", folder / "port_int8.onnx"
        exported = to_onnx(wrapped, example, fp32, keep=keep)
        ort_static_int8(str(fp32), str(int8), calibration, percentile=True, exclude=exported.get("float_nodes", ()))
        found["onnxruntime"] = Exported("onnxruntime", fp32, int8)
    if "executorch" in runtimes:
        fp32, int8 = folder / "port.pte", folder / "port_int8.pte"
        to_pte(wrapped, example, fp32)
        to_pte(pt2e_int8(wrapped, calibration, keep), example, int8)
        found["executorch"] = Exported("executorch", fp32, int8)
    if "litert" in runtimes:
        fp32, int8 = folder / "port.tflite", folder / "port_int8.tflite"
        to_tflite(wrapped, example, fp32)
        try:
            to_tflite(wrapped, example, int8, calibration, keep=keep)
            found["litert"] = Exported("litert", fp32, int8)
        except RuntimeError as error:
            found["litert"] = Exported("litert", fp32, None, note=f"no int8 file: {error}")
    return found


def coreml(model: nn.Module, example: torch.Tensor, folder: Path) -> dict[str, Any]:
    """The port converted to a Core ML ML program: its size and spec check (it runs only on Apple's systems)."""
    record = export(model, example, folder, "coreml", name="port")
    return {key: record.get(key) for key in ("size_bytes", "coreml_ops", "spec_ok", "note")}


def max_abs_diff(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> float:
    """The largest absolute difference between two lists of outputs."""
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def _figures(fp32: Runner, int8: Runner | None, reference: Runner, nchw: np.ndarray, runs: int) -> dict[str, float]:
    """The port beside the original (LiteRT, NHWC input), and its int8 copy beside its fp32 one, call by call."""
    nhwc = np.ascontiguousarray(nchw.transpose(0, 2, 3, 1))
    ours, theirs = paired_latency(lambda: fp32(nchw), lambda: reference(nhwc), runs=runs)
    figures = {
        "port_p50_ms": ours,
        "original_p50_ms": theirs,
        "latency_ratio_vs_reference": ours / theirs,
        "port_fps": 1e3 / ours,
        "original_fps": 1e3 / theirs,
    }
    if int8 is not None:
        quantized, full = paired_latency(lambda: int8(nchw), lambda: fp32(nchw), runs=runs)
        figures |= {"int8_p50_ms": quantized, "int8_speedup": full / quantized}
    return figures


def latency_table(
    exported: dict[str, Exported], original: Path, nchw: np.ndarray, runs: int, threads: Sequence[int] = (1, 2)
) -> dict[str, Any]:
    """Per runtime: sizes, peak memory, and latency at each of `threads` beside the original in LiteRT.

    The figures at one thread sit at the top of each runtime's record, those at more threads under `threads_<n>`.
    """
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "x.npy"
        np.save(inputs, nchw)
        table: dict[str, Any] = {
            "original_bytes": original.stat().st_size,
            "original_peak_rss_bytes": file_peak_memory("litert", original, nchw.transpose(0, 2, 3, 1)),
            "threads": list(threads),
            "runs": runs,
        }
        for name, port in exported.items():
            record = table[name] = {"fp32_bytes": port.fp32_bytes, "int8_bytes": port.int8_bytes}
            record["fp32_peak_rss_bytes"] = file_peak_memory(name, port.fp32_path, nchw)
            if name == "onnxruntime":  # where the time goes, by ONNX Runtime's own profiler, at one thread
                times = onnxruntime_node_times(str(port.fp32_path), {"x": nchw}, runs=runs)
                record["op_time_share"] = op_time_share(times)
            if port.int8_path is None:
                record["int8_note"] = port.note
            else:
                record["int8_peak_rss_bytes"] = file_peak_memory(name, port.int8_path, nchw)
        for n in sorted(threads):
            reference = _tflite.interpreter_runner(original, threads=n)
            for name, port in exported.items():
                if n > 1 and name == "executorch":
                    int8 = port.int8_path or ""
                    arguments = (name, port.fp32_path, int8, original, inputs, runs, n)
                    what = f"timing {name} at {n} threads"
                    figures = run_fresh("reference_impls._shipped_bench", *arguments, what=what)
                else:
                    int8_run = port.loader(port.int8_path, n) if port.int8_path else None
                    figures = _figures(port.loader(port.fp32_path, n), int8_run, reference, nchw, runs)
                if n == 1:
                    table[name].update(figures)
                else:
                    table[name][f"threads_{n}"] = figures
    return table


def op_time_share(times: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Share of the total kernel time per operator type, largest first, from `measure.onnxruntime_node_times`."""
    total = sum(t for _, t in times) or 1.0
    shares: dict[str, float] = {}
    for op, t in times:
        shares[op] = shares.get(op, 0.0) + t / total
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def headline(result: dict[str, Any], runtimes: Sequence[str]) -> None:
    """The record's top figures: the `HEADLINE` runtime's latency ratio and int8 speed-up, the worst int8 agreement."""
    first = HEADLINE if HEADLINE in runtimes else runtimes[0]
    result["headline_runtime"] = first
    result["latency_ratio_vs_reference"] = result["latency"][first]["latency_ratio_vs_reference"]
    result["int8_speedup"] = result["latency"][first].get("int8_speedup")
    result["int8_agreement"] = min(v["agreement"] for v in int8_records(result))


def int8_records(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The int8 results of the runtimes that have an int8 file (a runtime without one holds only its `note`)."""
    return [v for v in result["int8"].values() if isinstance(v, dict) and "agreement" in v]


def _main(runtime: str, fp32: str, int8: str, original: str, inputs: str, runs: str, threads: str) -> Any:
    n = int(threads)
    int8_run = RUNTIME_LOADERS[runtime](Path(int8), n) if int8 else None
    reference = _tflite.interpreter_runner(original, threads=n)
    return _figures(RUNTIME_LOADERS[runtime](Path(fp32), n), int8_run, reference, np.load(inputs), int(runs))


if __name__ == "__main__":
    print(json.dumps(_main(*sys.argv[1:])))
