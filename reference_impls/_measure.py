"""Measuring a model: parameters, multiply-accumulates, size on disk, CPU latency, load time, memory, profile.

Every number on an implementation's page comes from these functions, and every results file carries
`environment()`, so a number is never separated from the machine and library versions that produced it.

Conventions, chosen to match how the papers count:

- **MACs** are the multiply-accumulates of convolutions and fully connected layers, counted by forward hooks from
  the shapes each layer actually sees: a convolution costs `H_out · W_out · C_out · (C_in / groups) · K_h · K_w`, a
  linear layer `N_out · C_in` per output row. Batch norm (folded into the convolution at export), activations,
  pooling and the squeeze-and-excitation channel product are not counted, as in MobileNet's and EfficientNet's
  tables. `tests/test_impl_measure.py` checks the counter against hand-computed values and against
  `torch.utils.flop_counter` (which counts 2 FLOPs per MAC).
- **Latency** is wall time of one forward pass at batch 1 after a warm-up, reported as the median (p50) and the
  90th percentile (p90) of N runs, at one thread and at all threads of the machine.
- **Peak memory** is the rise of the process's resident set size (RSS) during inference: the kernel's high-water
  mark `VmHWM` is reset through `/proc/self/clear_refs` before the run and read after it. It includes the
  activations and the runtime's scratch buffers, not the weights already loaded.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from kb.bench.environment import environment as machine_environment

LIBRARIES = ("torch", "executorch", "onnxruntime", "onnx", "ai-edge-litert", "coremltools", "numpy")


@dataclass
class Layer:
    """One leaf module's share of the model, in the order the forward pass calls it."""

    name: str
    type: str
    params: int
    macs: int
    output_shape: list[int]


def count_params(model: nn.Module) -> int:
    """Number of parameters (weights, biases, batch-norm scales and shifts; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def _leaves(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    for name, module in model.named_modules():
        if not list(module.children()):
            yield name or type(model).__name__, module


def _flop_counts(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """FLOPs per module path (and `Global` for the whole pass) by PyTorch's own counter, `torch.utils.flop_counter`.

    It counts what the operators do, so functional convolutions and matrix products count too, not only modules.
    """
    with FlopCounterMode(display=False) as counter:
        model(x)
    return {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}


@torch.no_grad()
def layers(model: nn.Module, x: torch.Tensor) -> list[Layer]:
    """Per-layer parameters, MACs (half the counted FLOPs) and output shapes for one forward pass on `x`."""
    found: list[tuple[str, nn.Module, list[int]]] = []

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: Any) -> None:
            found.append((name, module, list(output.shape) if isinstance(output, torch.Tensor) else []))

        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in _leaves(model)]
    was_training = model.training
    try:
        model.eval()
        flops = _flop_counts(model, x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    root = type(model).__name__
    return [
        Layer(
            name,
            type(module).__name__,
            sum(p.numel() for p in module.parameters(recurse=False)),
            flops.get(name if name == root else f"{root}.{name}", 0) // 2,
            shape,
        )
        for name, module, shape in found
    ]


@torch.no_grad()
def count_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Total multiply-accumulates of one forward pass on `x` (per image when the batch is 1): FLOPs / 2."""
    was_training = model.training
    try:
        model.eval()
        return _flop_counts(model, x).get("Global", 0) // 2
    finally:
        model.train(was_training)


def state_dict_bytes(model: nn.Module) -> int:
    """Size of the fp32 state dict as `torch.save` writes it (what a checkpoint file would occupy)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run the block with torch's intra-op thread pool set to `n` threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latency(run: Callable[[], Any], *, warmup: int = 3, runs: int = 20) -> dict[str, float]:
    """Median and 90th percentile wall time of `run()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {
        "p50_ms": statistics.median(times),
        "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))],
        "runs": runs,
    }


def paired_latency(
    first: Callable[[], Any], second: Callable[[], Any], *, warmup: int = 10, runs: int = 200
) -> tuple[float, float]:
    """Median wall times (ms) of two calls timed alternately, call by call.

    Alternating makes a load spike, a frequency change or a noisy neighbour hit both sides alike, so their ratio is
    steadier than that of two separate `latency` runs.
    """
    for _ in range(warmup):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for run, out in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            run()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]) * 1e3, statistics.median(times[1]) * 1e3


def onnxruntime_node_times(path: str, inputs: dict[str, Any], *, runs: int = 200) -> list[tuple[str, float]]:
    """Op type and mean kernel time (µs) of every node ONNX Runtime ran, in execution order, at one thread.

    The nodes are those of the optimized graph (after fusions and layout changes), read from ONNX Runtime's own
    profiler; the profile file is written to a temporary directory and deleted.
    """
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(tmp, "profile")
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        for _ in range(runs):
            session.run(None, inputs)
        with open(session.end_profiling()) as file:
            events = json.load(file)
    totals: dict[str, list[Any]] = {}  # node name -> [first start time, op type, total µs]
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            node = totals.setdefault(event["name"], [event["ts"], event["args"]["op_name"], 0.0])
            node[2] += event["dur"]
    return [(op, total / runs) for _, op, total in sorted(totals.values())]


def torch_latency(model: nn.Module, x: torch.Tensor, *, warmup: int = 3, runs: int = 20) -> dict[str, Any]:
    """Eager PyTorch latency at one thread and at all threads of the machine."""
    model.eval()

    def run() -> None:
        with torch.inference_mode():
            model(x)

    result = {}
    for n in sorted({1, os.cpu_count() or 1}):
        with threads(n):
            result[f"threads_{n}"] = latency(run, warmup=warmup, runs=runs)
    return result


def peak_memory_bytes(run: Callable[[], Any]) -> int | None:
    """Rise of the resident set size while `run()` executes, or None where the kernel cannot reset VmHWM."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # "5" resets the peak RSS (VmHWM) to the current RSS
    except OSError:
        return None
    before = _status_kib("VmRSS")
    run()
    return max(0, _status_kib("VmHWM") - before) * 1024


# What each runtime imports to load a file, imported before the memory is measured: the figure is then the file's
# weights, the activations and the runtime's buffers, not the runtime's own code.
RUNTIME_MODULES = {
    "onnxruntime": ("onnxruntime",),
    "executorch": ("executorch.runtime", "executorch.extension.pybindings.portable_lib"),
    "litert": ("ai_edge_litert.interpreter",),
}


def run_fresh(module: str, *arguments: str | Path, what: str, timeout: float = 1800) -> Any:
    """Run `module`'s `__main__` in a new Python process with `arguments` and return the JSON it prints last.

    For figures that a process's history would change: an allocator keeps what earlier models freed, and
    ExecuTorch's thread pool is made once per process. `what` names the measurement in the error if it fails.
    """
    command = [sys.executable, "-m", module, *map(str, arguments)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def file_peak_memory(runtime: str, path: Path, example: np.ndarray) -> int | None:
    """Rise of resident memory while a fresh process loads the file `path` in `runtime` and runs it ten times.

    `example` is the input in the layout the file takes (NHWC for a shipped `.tflite`).
    """
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "x.npy"
        np.save(inputs, example)
        what = f"measuring {path.name} in {runtime}"
        return run_fresh("reference_impls._measure", runtime, path, inputs, what=what, timeout=600)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def load_seconds(load: Callable[[], Any], repeats: int = 3) -> float:
    """Fastest of `repeats` timed calls of `load()` (the others pay for the file cache and lazy imports)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        load()
        best = min(best, time.perf_counter() - start)
    return best


def eager_load(builder: Callable[[], nn.Module], model: nn.Module) -> Callable[[], nn.Module]:
    """A loader that builds the architecture and reads the fp32 state dict back from bytes, as an app would."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)

    def load() -> nn.Module:
        buffer.seek(0)
        fresh = builder()
        fresh.load_state_dict(torch.load(buffer, weights_only=True))
        return fresh.eval()

    return load


@torch.no_grad()
def profile(model: nn.Module, x: torch.Tensor, *, runs: int = 5) -> list[dict[str, Any]]:
    """Per-layer time share, MACs and parameters: the MACE-style table that finds the bottleneck.

    Each leaf module is timed by a pre-hook and a hook around its forward; the share is its time over the sum of
    all leaf times (the Python time between layers is left out, so shares add up to 1).
    """
    model.eval()
    counted = layers(model, x)
    leaves = list(_leaves(model))
    elapsed = {name: 0.0 for name, _ in leaves}
    started: dict[str, float] = {}
    handles = []
    for name, module in leaves:
        handles.append(module.register_forward_pre_hook(lambda *_, n=name: started.__setitem__(n, time.perf_counter())))
        handles.append(
            module.register_forward_hook(
                lambda *_, n=name: elapsed.__setitem__(n, elapsed[n] + time.perf_counter() - started[n])
            )
        )
    try:
        model(x)  # warm-up
        for name in elapsed:
            elapsed[name] = 0.0
        for _ in range(runs):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    total = sum(elapsed.values()) or 1.0
    seen: set[str] = set()
    rows = []
    for layer in counted:
        if layer.name in seen:  # a module called twice is timed once, in total
            continue
        seen.add(layer.name)
        rows.append(
            {**asdict(layer), "time_ms": elapsed[layer.name] / runs * 1e3, "time_share": elapsed[layer.name] / total}
        )
    return rows


def environment() -> dict[str, Any]:
    """The machine and the versions of the export runtimes, recorded with every result."""
    return {**machine_environment(LIBRARIES), "torch_threads": torch.get_num_threads()}


def summary(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Parameters, MACs and fp32 size: the three numbers every results table starts with."""
    return {"params": count_params(model), "macs": count_macs(model, x), "fp32_bytes": state_dict_bytes(model)}


if __name__ == "__main__":  # `file_peak_memory`'s fresh process: RUNTIME PATH INPUT.npy -> the rise in bytes
    from reference_impls._export import RUNTIME_LOADERS

    runtime, file, array = sys.argv[1], Path(sys.argv[2]), np.load(sys.argv[3])
    for name in RUNTIME_MODULES[runtime]:
        importlib.import_module(name)

    def load_and_run() -> None:
        run = RUNTIME_LOADERS[runtime](file, 1)
        for _ in range(10):
            run(array)

    print(json.dumps(peak_memory_bytes(load_and_run)))
