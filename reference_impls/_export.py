"""Export a model to the mobile runtimes, run each file back, and compare it with eager PyTorch.

| format | converter | runs back in | on Linux |
| --- | --- | --- | --- |
| `pte` | ExecuTorch `to_edge_transform_and_lower` with the XNNPACK partitioner | `executorch.runtime` | yes |
| `onnx` | `torch.onnx.export(..., dynamo=True)` | onnxruntime | yes |
| `ort` | onnxruntime's `convert_onnx_models_to_ort` (ONNX Runtime Mobile's format, Arm target) | onnxruntime | yes |
| `tflite` | litert-torch, in its own `.venv-litert` (`scripts/make_litert_venv.sh`) | ai-edge-litert | yes |
| `coreml` | coremltools `convert` to an ML program (`.mlpackage`) | Core ML | no: the spec is checked |

Every export returns a record `{format, path, size_bytes, max_abs_diff, ok, note, ...}`: `max_abs_diff` is the
largest absolute difference between the file's outputs and eager PyTorch's on the example input, and `ok` means
the file was written, ran, and stayed within `tolerance`. A format that cannot run here says why in `note`
(`unavailable: ...`) instead of pretending. With `bench=True` each record also gets the runtime's load time and
its latency at one thread and at all threads.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kb import paths
from reference_impls._measure import latency
from reference_impls._pt2e import inside

FORMATS = ("pte", "onnx", "ort", "tflite", "coreml")
SUFFIX = {"pte": ".pte", "onnx": ".onnx", "ort": ".ort", "tflite": ".tflite", "coreml": ".mlpackage"}
LITERT_VENV = paths.LITERT_VENV
Runner = Callable[[np.ndarray], list[np.ndarray]]


class Named(nn.Module):
    """Holds the model under one attribute name.

    ExecuTorch's batch-norm fusion names new weights after the module path and fails on a path starting with a
    digit (the children of a top-level `nn.Sequential`); the prefix `model.` avoids that for every model.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> Any:
        """The wrapped model's output."""
        return self.model(x)


def outputs(result: Any) -> list[np.ndarray]:
    """A model's output (tensor or tuple of tensors) as a list of numpy arrays."""
    tensors = result if isinstance(result, list | tuple) else [result]
    return [t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in tensors]


def size_bytes(path: Path) -> int:
    """Size of a file, or of all files under a directory (an `.mlpackage` is one)."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def to_pte(model: nn.Module, x: torch.Tensor, path: Path) -> dict[str, Any]:
    """Lower to ExecuTorch with XNNPACK; report how many graph nodes XNNPACK took over."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.devtools.backend_debug import get_delegation_info
    from executorch.exir import to_edge_transform_and_lower

    edge = to_edge_transform_and_lower(torch.export.export(model, (x,)), partitioner=[XnnpackPartitioner()])
    info = get_delegation_info(edge.exported_program().graph_module)
    path.write_bytes(edge.to_executorch().buffer)
    # `getitem` only unpacks the delegate's output tuple: it is not computation left outside XNNPACK.
    left_out = {
        op: b.non_delegated for op, b in info.delegation_by_operator.items() if b.non_delegated and op != "getitem"
    }
    return {
        "delegated_nodes": info.num_delegated_nodes,
        "non_delegated_nodes": sum(left_out.values()),
        "non_delegated_ops": left_out,
        "delegated_subgraphs": info.num_delegated_subgraphs,
    }


def load_pte(path: Path, threads: int) -> Runner:
    """Load a `.pte` program with the ExecuTorch runtime; XNNPACK's thread pool is set to `threads`."""
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
    from executorch.runtime import Runtime

    _unsafe_reset_threadpool(threads)
    method = Runtime.get().load_program(path).load_method("forward")
    return lambda array: outputs(method.execute([torch.from_numpy(array)]))


def to_onnx(
    model: nn.Module,
    x: torch.Tensor,
    path: Path,
    *,
    dynamic_batch: bool = False,
    keep: Sequence[str] = (),
    as_convolutions: Collection[str] = ("PRelu",),
) -> dict[str, Any]:
    """Export with the dynamo-based exporter (torch.export, then ONNX ops), weights inside the file, input `x`.

    The exporter annotates every node with its Python stack trace and module path; a shipped model carries no
    such debug text, and it would inflate the file whose size we report, so it is dropped. Before that, the names of
    the nodes that the submodules in `keep` produced are recorded as `float_nodes` (for a quantizer to exclude).
    `dynamic_batch` leaves the batch size free; `as_convolutions` names the operators, of `PRelu` and `Pad`, that
    are written as 1×1 convolutions for ONNX Runtime's blocked layout (see `_for_blocked_layout`).
    """
    import onnx

    shapes = {"x": {0: torch.export.Dim("batch", min=1, max=4096)}} if dynamic_batch else None
    program = torch.onnx.export(
        model, (x,), input_names=["x"], dynamic_shapes=shapes, dynamo=True, external_data=False, verbose=False
    )
    proto = program.model_proto
    if unknown := set(as_convolutions) - {"PRelu", "Pad"}:
        raise ValueError(f"as_convolutions takes PRelu and Pad, not {sorted(unknown)}")
    _for_blocked_layout(proto, as_convolutions)
    kept = []
    for node in proto.graph.node:
        scopes = next((p.value for p in node.metadata_props if p.key == "pkg.torch.onnx.name_scopes"), "[]")
        if keep and inside(ast.literal_eval(scopes), keep):  # a list literal of module paths, outermost first
            kept.append(node.name)
        del node.metadata_props[:]
        node.doc_string = ""
    onnx.save(proto, str(path))
    return {"onnx_nodes": len(proto.graph.node)} | ({"float_nodes": kept} if keep else {})


def _for_blocked_layout(proto: Any, ops: Collection[str]) -> None:
    """Write the `ops` that take ONNX Runtime out of its blocked layout as convolutions that stay in it.

    ONNX Runtime's CPU provider runs convolutions, pooling, `Add` and `Relu` in a blocked channel layout (NCHWc) and
    converts back to NCHW around any other operator, then forward again after it. Two operators of the BlazeFace
    family cost such a round trip each time: `PRelu` with a per-channel slope, and the `Pad` of the channel axis
    alone that widens a zero-padded shortcut. Both are linear maps a 1×1 convolution can carry:

    - `PRelu(x, a) = Relu(x) + a′ · Relu(−x)` with `a′ = −a`, where `−x` and `a′ ·` are depthwise 1×1 convolutions
      (weights −1 and −a); the sum fuses into the second convolution;
    - a channel pad from C to C′ channels is the 1×1 convolution whose weights are the C′ × C identity.

    The outputs are the same up to float rounding. Which pays depends on the model: the identity convolution costs
    C′ × C multiply-adds per pixel, as much as a pointwise layer. The records of the face mesh and of the front
    detector measure it (`onnx_rewrite`: the file without and with the rewrite timed call by call, each one's time
    per operator type, and their largest difference). A `PRelu` whose slope is not a constant, or a `Pad` of other
    axes, stays as it is.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = proto.graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    inferred = onnx.shape_inference.infer_shapes(proto).graph if "Pad" in ops else graph
    channels = {  # the channel count of every 4-D value, from ONNX's shape inference
        info.name: info.type.tensor_type.shape.dim[1].dim_value
        for info in [*inferred.input, *inferred.value_info]
        if len(info.type.tensor_type.shape.dim) == 4
    }

    def constant(name: str, array: Any) -> str:
        graph.initializer.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv(inputs: list[str], output: str, name: str, groups: int = 1) -> Any:
        return onnx.helper.make_node("Conv", inputs, [output], name=name, group=groups, kernel_shape=[1, 1])

    nodes = []
    for node in graph.node:
        name, rewritten = node.name, []
        if node.op_type == "PRelu" and "PRelu" in ops and node.input[1] in constants:
            (x, slope), (y,) = node.input, node.output
            a = numpy_helper.to_array(constants[slope]).reshape(-1, 1, 1, 1)
            negate = constant(f"{name}_minus_one", -np.ones_like(a))
            scale = constant(f"{name}_minus_slope", -a)
            rewritten = [
                onnx.helper.make_node("Relu", [x], [f"{name}_positive"], name=f"{name}_relu"),
                conv([x, negate], f"{name}_negated", f"{name}_negate", groups=len(a)),
                onnx.helper.make_node("Relu", [f"{name}_negated"], [f"{name}_negative"], name=f"{name}_relu_negated"),
                conv([f"{name}_negative", scale], f"{name}_scaled", f"{name}_scale", groups=len(a)),
                onnx.helper.make_node("Add", [f"{name}_positive", f"{name}_scaled"], [y], name=f"{name}_add"),
            ]
        elif node.op_type == "Pad" and "Pad" in ops and _channel_pad(node, constants) and channels.get(node.input[0]):
            c_in = channels[node.input[0]]
            c_out = c_in + int(numpy_helper.to_array(constants[node.input[1]])[5])
            identity = constant(f"{name}_identity", np.eye(c_out, c_in).reshape(c_out, c_in, 1, 1))
            rewritten = [conv([node.input[0], identity], node.output[0], f"{name}_conv")]
        for added in rewritten:  # the new nodes belong to the replaced node's module (for `keep`)
            added.metadata_props.extend(node.metadata_props)
        nodes += rewritten or [node]
    del graph.node[:]
    graph.node.extend(nodes)


def _channel_pad(node: Any, constants: dict[str, Any]) -> bool:
    """Whether a `Pad` node zero-pads only the end of the channel axis of a 4-D tensor, with constant pads."""
    from onnx import numpy_helper

    mode = next((a.s for a in node.attribute if a.name == "mode"), b"constant")
    if mode != b"constant" or len(node.input) > 3 or node.input[1] not in constants:
        return False
    if len(node.input) == 3 and node.input[2]:  # a fill value other than the default zero
        fill = constants.get(node.input[2])
        if fill is None or numpy_helper.to_array(fill).any():
            return False
    pads = numpy_helper.to_array(constants[node.input[1]]).reshape(-1)
    return pads.size == 8 and pads[5] > 0 and not pads[[0, 1, 2, 3, 4, 6, 7]].any()


def load_onnxruntime(path: Path, threads: int) -> Runner:
    """An onnxruntime CPU session (reads `.onnx` and `.ort` alike) with `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # the graphs here are chains: a second pool would only compete
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda array: session.run(None, {name: array})


def to_ort(model: nn.Module, x: torch.Tensor, path: Path) -> dict[str, Any]:
    """Convert the ONNX export to ORT format for ONNX Runtime Mobile, optimised for an Arm target."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / (path.stem + ".onnx")
        to_onnx(model, x, onnx_path)
        convert_onnx_models_to_ort(
            onnx_path, Path(tmp), optimization_styles=[OptimizationStyle.Fixed], target_platform="arm"
        )
        os.replace(Path(tmp) / (path.stem + ".ort"), path)
    return {}


_LITERT_SCRIPT = """\
import json, sys, torch, litert_torch
program, x = torch.export.load(sys.argv[1]).module(), torch.load(sys.argv[2])
if len(sys.argv) > 4:  # full-integer: PT2E with LiteRT's quantizer, calibrated on the images given
    from litert_torch.quantize import pt2e_quantizer as q
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    sys.path.insert(0, sys.argv[6])  # the repository, for the one helper both quantizers share
    from reference_impls._pt2e import keep_float
    quantizer = keep_float(q.PT2EQuantizer, json.loads(sys.argv[5]))
    quantizer.set_global(q.get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(program, quantizer)
    images, batch = torch.load(sys.argv[4]), x.shape[0]
    for start in range(0, len(images) - batch + 1, batch):  # the program's one static batch size
        prepared(images[start : start + batch])
    model = convert_pt2e(prepared, fold_quantize=False)
    # One dequantize per user: litert-torch 0.10.0's layout pass overwrites a shared dequantize's metadata when it
    # moves its first user to NHWC, then fails on the second ("non-NHWC compatible node"); the BlazeBlock's input,
    # read by both the depthwise branch and the residual add, is such a node.
    for node in list(model.graph.nodes):
        if node.op == "call_function" and "dequantize" in str(node.target):
            for user in list(node.users)[1:]:
                with model.graph.inserting_after(node):
                    copy = model.graph.node_copy(node)
                copy.meta = dict(node.meta)
                user.replace_input_with(node, copy)
    model.recompile()
    litert_torch.convert(model, (x,), quant_config=QuantConfig(pt2e_quantizer=quantizer)).export(sys.argv[3])
else:
    litert_torch.convert(program, (x,)).export(sys.argv[3])
"""


def to_tflite(
    model: nn.Module,
    x: torch.Tensor,
    path: Path,
    calibration: torch.Tensor | None = None,
    *,
    keep: Sequence[str] = (),
) -> dict[str, Any]:
    """Convert with litert-torch inside `.venv-litert`, handing the model over as a saved `torch.export` program.

    With `calibration` images the file is full-integer: int8 weights, activations, input and output (the LiteRT
    interpreter's runner quantizes the input and dequantizes the output with the file's own parameters), except
    the submodules named in `keep`, which stay fp32 (`_pt2e.keep_float`).
    """
    python = LITERT_VENV / "bin" / "python"
    if not (LITERT_VENV / "complete").exists():
        raise Unavailable(
            "unavailable: litert-torch 0.10.0 needs its own environment (its dependencies pin pydantic 2.11, the "
            "main .venv has 2.14); build it with scripts/make_litert_venv.sh"
        )
    with tempfile.TemporaryDirectory() as tmp:
        program, example, images = Path(tmp) / "model.pt2", Path(tmp) / "x.pt", Path(tmp) / "calibration.pt"
        torch.export.save(torch.export.export(model, (x,)), program)
        torch.save(x, example)
        arguments = [str(python), "-c", _LITERT_SCRIPT, str(program), str(example), str(path)]
        if calibration is not None:
            torch.save(calibration, images)
            arguments += [str(images), json.dumps(list(keep)), str(paths.ROOT)]
        done = subprocess.run(arguments, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "Error" in line] or done.stderr.splitlines()[-1:]
        raise RuntimeError(f"litert-torch failed: {errors[-1].strip() if errors else 'no message'}")
    return {}


def load_tflite(path: Path, threads: int) -> Runner:
    """Run a `.tflite` file with ai-edge-litert's interpreter (XNNPACK delegate by default).

    A full-integer file takes and gives int8: the input is quantized and the outputs dequantized with the scale and
    zero point the file records, so every runner speaks fp32.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    outputs = interpreter.get_output_details()

    def run(array: np.ndarray) -> list[np.ndarray]:
        scale, zero = source["quantization"]
        if source["dtype"] != np.float32 and scale:
            info = np.iinfo(source["dtype"])
            array = np.clip(np.rint(array / scale) + zero, info.min, info.max).astype(source["dtype"])
        interpreter.set_tensor(source["index"], array)
        interpreter.invoke()
        results = []
        for detail in outputs:
            value = interpreter.get_tensor(detail["index"])
            scale, zero = detail["quantization"]
            quantized = detail["dtype"] != np.float32 and scale
            results.append((value.astype(np.float32) - zero) * scale if quantized else value)
        return results

    return run


def to_coreml(model: nn.Module, x: torch.Tensor, path: Path) -> dict[str, Any]:
    """Convert to a Core ML ML program; without macOS, check the spec: inputs, outputs and operation count."""
    import coremltools as ct

    program = torch.export.export(model, (x,)).run_decompositions({})
    converted = ct.convert(
        program,
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS17,
        compute_precision=ct.precision.FLOAT32,  # the default stores fp16 weights; every other format here is fp32
    )
    converted.save(str(path))
    spec = converted.get_spec()
    main = spec.mlProgram.functions["main"]
    operations = main.block_specializations[main.opset].operations
    inputs = {i.name: list(i.type.multiArrayType.shape) for i in spec.description.input}
    return {
        "inputs": inputs,
        "outputs": [o.name for o in spec.description.output],
        "coreml_ops": len(operations),
        "spec_ok": list(inputs.values()) == [list(x.shape)] and len(operations) > 0,
    }


class Unavailable(RuntimeError):
    """The format's converter or runtime cannot run on this machine; the message says why."""


CONVERTERS: dict[str, Callable[[nn.Module, torch.Tensor, Path], dict[str, Any]]] = {
    "pte": to_pte,
    "onnx": to_onnx,
    "ort": to_ort,
    "tflite": to_tflite,
    "coreml": to_coreml,
}
# Each format's runtime, and how each runtime loads a file at a number of threads: the one map every harness uses.
RUNTIME_OF = {"pte": "executorch", "onnx": "onnxruntime", "ort": "onnxruntime", "tflite": "litert"}
RUNTIME_LOADERS: dict[str, Callable[[Path, int], Runner]] = {
    "executorch": load_pte,
    "onnxruntime": load_onnxruntime,
    "litert": load_tflite,
}
LOADERS: dict[str, Callable[[Path, int], Runner] | None] = {
    fmt: RUNTIME_LOADERS[RUNTIME_OF[fmt]] if fmt in RUNTIME_OF else None for fmt in CONVERTERS
}


def export(
    model: nn.Module,
    x: torch.Tensor,
    out_dir: Path,
    fmt: str,
    *,
    name: str = "model",
    tolerance: float = 1e-3,
    bench: bool = False,
    runs: int = 20,
    more_inputs: Sequence[torch.Tensor] = (),
) -> dict[str, Any]:
    """Export `model` to one format, run it back on `x` (and `more_inputs`), and compare with eager PyTorch.

    Args:
        model: The model; it is exported in eval mode.
        x: The example input; it fixes the exported input shape.
        out_dir: Where the file goes (`<name><suffix>`).
        fmt: One of `FORMATS`.
        name: The file's stem.
        tolerance: Largest absolute difference from eager PyTorch that still counts as parity.
        bench: Also time loading and inference (one thread and all threads).
        runs: Timed runs per latency figure.
        more_inputs: Further inputs of `x`'s shape. Over all of them the record holds `output_spread`, how much
            eager outputs differ between inputs, and `relative_diff` = `max_abs_diff` / `output_spread`: a parity
            check means something only when the outputs depend on the input (a network that answers its
            classifier's bias for every input matches any export).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}{SUFFIX[fmt]}"
    record: dict[str, Any] = {
        "format": fmt,
        "path": str(path),
        "size_bytes": None,
        "max_abs_diff": None,
        "ok": False,
        "note": "",
    }
    wrapped = Named(model.eval()).eval()
    start = time.perf_counter()
    try:
        with torch.no_grad():
            record.update(CONVERTERS[fmt](wrapped, x, path))
            expected = outputs(wrapped(x))
    except Unavailable as reason:
        record["note"] = str(reason)
        return record
    except Exception as error:  # a converter's failure is a result to report, not a crash of the whole run
        first_line = str(error).splitlines()[0][:300] if str(error) else ""
        record["note"] = f"export failed: {type(error).__name__}: {first_line}"
        return record
    record["export_s"] = time.perf_counter() - start
    record["size_bytes"] = size_bytes(path)
    loader = LOADERS[fmt]
    if loader is None:
        record["ok"] = bool(record.get("spec_ok"))
        record["note"] = "converted, not run (needs macOS); its spec was checked"
        return record
    array = x.numpy()
    start = time.perf_counter()
    run = loader(path, 1)
    record["load_s"] = time.perf_counter() - start
    inputs = [x, *more_inputs]
    with torch.no_grad():
        eager = [expected] + [outputs(wrapped(extra)) for extra in more_inputs]
    diffs = []
    for given, want in zip(inputs, eager, strict=True):
        got = run(given.numpy())
        diffs += [float(np.abs(g - e).max()) for g, e in zip(got, want, strict=True)]
    record["max_abs_diff"] = max(diffs)
    # The scale of the outputs, so that a small difference can be read against it (untrained models output little).
    record["eager_max_abs"] = max(float(np.abs(e).max()) for e in expected)
    if more_inputs:
        spread = max(float(np.ptp(np.stack([out[i] for out in eager]), axis=0).max()) for i in range(len(expected)))
        record["output_spread"] = spread
        record["relative_diff"] = record["max_abs_diff"] / spread if spread > 0 else float("inf")
    record["ok"] = record["max_abs_diff"] <= tolerance
    record["note"] = "parity within tolerance" if record["ok"] else f"differs from eager by more than {tolerance}"
    if bench:
        record["latency"] = {}
        for n in sorted({1, os.cpu_count() or 1}):
            run = loader(path, n)
            record["latency"][f"threads_{n}"] = latency(lambda run=run: run(array), runs=runs)
    return record


@torch.no_grad()
def make_input_dependent(model: nn.Module, shape: Sequence[int], *, batches: int = 4, seed: int = 0) -> nn.Module:
    """Weights whose outputs depend on the input, for a parity check that can fail.

    With PyTorch's default initialization and fresh batch-norm statistics, deep classifiers output almost exactly
    their bias whatever the input, so any export "matches". Here convolutions and linear layers get
    variance-preserving (He) weights and every batch norm its statistics from generated inputs, so activations keep
    their scale through the depth.
    """
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Conv1d | nn.Linear):
            fan_in = module.weight[0].numel()
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average over the calibration batches
    model.train()
    for _ in range(batches):
        model(torch.randn([8, *shape[1:]], generator=generator))
    return model.eval()


def export_all(
    model: nn.Module, x: torch.Tensor, out_dir: Path, formats: Sequence[str] = FORMATS, **kwargs: Any
) -> list[dict[str, Any]]:
    """`export` to each of `formats`; one record per format, in order."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown formats {sorted(unknown)}; choose from {', '.join(FORMATS)}")
    return [export(model, x, out_dir, fmt, **kwargs) for fmt in formats]


if __name__ == "__main__":
    from reference_impls.separable import separable_conv

    layer = separable_conv(channels=32)
    example = torch.randn(1, 32, 14, 14)
    for row in export_all(layer, example, Path(tempfile.mkdtemp(prefix="export-")), formats=sys.argv[1:] or FORMATS):
        print({k: row[k] for k in ("format", "size_bytes", "max_abs_diff", "ok", "note")})
