"""Measuring a port against the shipped `.tflite` it came from: runtimes side by side, and int8 of the port.

The port is exported through the harness (`export.py`) to ONNX Runtime, to ExecuTorch with XNNPACK and to LiteRT
(litert-torch), and quantized to int8 for each, calibrated on images that are not test images: ONNX Runtime's
static quantization (QDQ, per-channel 8-bit weights of `_ort.ort_weight_type`, uint8 activations whose
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
from reference_impls._ort import ort_static_int8
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
    fp32: dict[str, Exported] | None = None,
    as_convolutions: Sequence[str] = ("PRelu",),
) -> dict[str, Exported]:
    """The port in each of `runtimes`, fp32 and int8 (calibrated on `calibration`, (N, C, H, W)), under `folder`.

    `keep` names submodules (paths under `Named`, as `_pt2e.keep_float` takes them) that stay fp32 in every
    runtime's int8 file: PT2E leaves them unannotated for ExecuTorch and LiteRT, and ONNX Runtime's quantizer
    excludes the ONNX nodes they produced. `fp32` (an earlier call's result) reuses those fp32 files for ExecuTorch
    and LiteRT instead of lowering the same graph again; ONNX Runtime's is re-exported, for the names of the kept
    nodes its quantizer must skip. `as_convolutions` goes to `to_onnx`: the operators written as 1×1 convolutions.
    """
    wrapped, example = Named(model.eval()).eval(), calibration[:1]
    found = {}
    if "onnxruntime" in runtimes:
        full, int8 = folder / "port.onnx", folder / "port_int8.onnx"
        exported = to_onnx(wrapped, example, full, keep=keep, as_convolutions=as_convolutions)
        ort_static_int8(str(full), str(int8), calibration, percentile=True, exclude=exported.get("float_nodes", ()))
        found["onnxruntime"] = Exported("onnxruntime", full, int8)
    if "executorch" in runtimes:
        full, int8 = fp32["executorch"].fp32_path if fp32 else folder / "port.pte", folder / "port_int8.pte"
        if not fp32:
            to_pte(wrapped, example, full)
        to_pte(pt2e_int8(wrapped, calibration, keep), example, int8)
        found["executorch"] = Exported("executorch", full, int8)
    if "litert" in runtimes:
        full, int8 = fp32["litert"].fp32_path if fp32 else folder / "port.tflite", folder / "port_int8.tflite"
        if not fp32:
            to_tflite(wrapped, example, full)
        try:
            to_tflite(wrapped, example, int8, calibration, keep=keep)
            found["litert"] = Exported("litert", full, int8)
        except RuntimeError as error:
            found["litert"] = Exported("litert", full, None, note=f"no int8 file: {error}")
    return found


def score_exports(
    result: dict[str, Any],
    exported: dict[str, Exported],
    nchw: np.ndarray,
    ours: Sequence[Any],
    score: Callable[[list[Any]], dict[str, Any]],
    decode: Callable[[list[np.ndarray]], Any] = tuple,
) -> None:
    """Every runtime's files on the evaluation images `nchw`, one at a time, into `result`.

    The fp32 file's largest difference from eager PyTorch (`ours`, decoded alike) goes into the runtime's latency
    record as `export_max_abs_diff`; the int8 file's decoded outputs go to `score`, whose dict becomes
    `result["int8"][runtime]` (or the runtime's note, when it has no int8 file).
    """
    for name, port in exported.items():
        fp32 = [decode(port.fp32(x[None])) for x in nchw]
        result["latency"][name]["export_max_abs_diff"] = max(map(max_abs_diff, fp32, ours))
        if port.int8 is None:
            result["int8"][name] = {"note": port.note}
        else:
            result["int8"][name] = score([decode(port.int8(x[None])) for x in nchw])


def int8_kept(
    model: nn.Module,
    calibration: torch.Tensor,
    keep: Sequence[str],
    exported: dict[str, Exported],
    folder: Path,
    nchw: np.ndarray,
    score: Callable[[list[Any]], dict[str, Any]],
    runs: int,
    decode: Callable[[list[np.ndarray]], Any] = tuple,
) -> dict[str, Any]:
    """Every runtime's int8 file rebuilt with the submodules `keep` in fp32, scored and timed like the all-int8 one.

    Per runtime: `score` of its outputs on the evaluation images `nchw`, the int8 file's size, and its speed-up
    over the same runtime's fp32 file in `exported`, timed call by call at one thread.
    """
    folder.mkdir()
    result: dict[str, Any] = {}
    for name, port in export_port(model, calibration, folder, tuple(exported), keep, fp32=exported).items():
        if port.int8 is None:
            result[name] = {"note": port.note}
            continue
        result[name] = score([decode(port.int8(x[None])) for x in nchw]) | {"int8_bytes": port.int8_bytes}
        result[name]["int8_speedup"] = int8_speedup(port.int8, exported[name].fp32, nchw[:1], runs)[1]
    return result


def onnx_rewrite(
    model: nn.Module, example: torch.Tensor, ops: Sequence[str], folder: Path, runs: int
) -> dict[str, Any]:
    """What `export.to_onnx` writing `ops` as 1×1 convolutions (`as_convolutions`) does in ONNX Runtime.

    The port exported without any rewrite and with `ops` rewritten, timed call by call at one thread; where each
    file's kernel time goes, by ONNX Runtime's profiler; and the largest difference between the two.
    """
    native, rewritten = folder / "port_native_ops.onnx", folder / "port_rewritten_ops.onnx"
    to_onnx(Named(model.eval()).eval(), example, native, as_convolutions=())
    to_onnx(Named(model.eval()).eval(), example, rewritten, as_convolutions=ops)
    first, second = (RUNTIME_LOADERS["onnxruntime"](path, 1) for path in (native, rewritten))
    x = example.numpy()
    native_ms, rewritten_ms = paired_latency(lambda: first(x), lambda: second(x), runs=runs)
    return {
        "rewritten_ops": list(ops),
        "native_p50_ms": native_ms,
        "rewritten_p50_ms": rewritten_ms,
        "speedup": native_ms / rewritten_ms,
        "max_abs_diff": max_abs_diff(first(x), second(x)),
        "native_op_time_share": op_time_share(onnxruntime_node_times(str(native), {"x": x}, runs=runs)),
        "rewritten_op_time_share": op_time_share(onnxruntime_node_times(str(rewritten), {"x": x}, runs=runs)),
    }


def coreml(model: nn.Module, example: torch.Tensor, folder: Path) -> dict[str, Any]:
    """The port converted to a Core ML ML program: its size and spec check (it runs only on Apple's systems)."""
    record = export(model, example, folder, "coreml", name="port")
    return {key: record.get(key) for key in ("size_bytes", "coreml_ops", "spec_ok", "note")}


def max_abs_diff(a: np.ndarray | Sequence[np.ndarray], b: np.ndarray | Sequence[np.ndarray]) -> float:
    """The largest absolute difference between two outputs, or two lists of outputs."""
    if isinstance(a, np.ndarray):
        a, b = [a], [b]
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


def int8_speedup(int8: Runner, fp32: Runner, nchw: np.ndarray, runs: int) -> tuple[float, float]:
    """The int8 file's median latency (ms) and its speed-up over the fp32 file, timed call by call."""
    quantized, full = paired_latency(lambda: int8(nchw), lambda: fp32(nchw), runs=runs)
    return quantized, full / quantized


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
        figures["int8_p50_ms"], figures["int8_speedup"] = int8_speedup(int8, fp32, nchw, runs)
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
