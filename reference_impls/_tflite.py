"""Reading a `.tflite` file's graph and weights, and loading them into a PyTorch port.

A LiteRT model is a flatbuffer (`ai_edge_litert.schema_py_generated` is its generated reader): a list of operators
in execution order, each naming its input and output tensors, and a list of buffers that hold the constant
tensors' bytes. MediaPipe ships its weights as fp16 behind `DEQUANTIZE` operators, and its pruned models as
sparse tensors behind `DENSIFY` operators; `weights()` undoes both and returns every constant that a computing
operator reads, in the order the graph first uses it, in fp32 and in LiteRT's layout.

`load()` then hands those tensors to the parameters of a PyTorch module in registration order: a port writes its
layers in the graph's order, and the loader checks each shape after converting the layout (LiteRT's convolution
kernels are OHWI, depthwise ones 1HWC, PyTorch's OIHW and C1HW) and that every tensor was used exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

# Operators that only move or reinterpret data: their constant inputs (shapes, paddings, axes) are structure.
_STRUCTURE_OPS = {"RESHAPE", "PAD", "CONCATENATION", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN", "RESIZE_BILINEAR"}
_NUMPY = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT8": np.int8, "UINT8": np.uint8}


@dataclass
class Op:
    """One operator: its type, builtin options as a dict, and the tensor indices it reads and writes."""

    index: int
    type: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Weight:
    """A constant tensor as a computing operator reads it: fp32, LiteRT layout, and where the graph uses it."""

    name: str
    array: np.ndarray
    op: Op
    slot: int  # which input of `op` it is (1 = kernel, 2 = bias for convolutions)
    stored: str  # the stored type: FLOAT32, FLOAT16, or FLOAT32 sparse
    nonzero_fraction: float  # of the stored values (1.0 for a dense tensor)


def _enum_names(enum: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_")}


def _options(schema: Any, op: Any, op_type: str) -> dict[str, Any]:
    """The builtin options of an operator as {snake_case_name: value} (padding, strides, fused activation...)."""
    table = op.BuiltinOptions()
    name = {"DEPTHWISE_CONV_2D": "DepthwiseConv2D", "CONV_2D": "Conv2D", "TRANSPOSE_CONV": "TransposeConv"}.get(
        op_type, "".join(part.capitalize() for part in op_type.split("_"))
    )
    cls = getattr(schema, f"{name}Options", None)
    if table is None or cls is None:
        return {}
    options = cls()
    options.Init(table.Bytes, table.Pos)
    found = {}
    for attr in dir(options):
        if attr[0].isupper() and attr not in ("Init",) and not attr.startswith("GetRootAs") and "Length" not in attr:
            try:
                value = getattr(options, attr)()
            except TypeError:
                continue
            if isinstance(value, int | float):
                found[attr] = value
    return found


def _densify(values: np.ndarray, sparsity: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Expand a LiteRT sparse tensor (per-dimension DENSE or SPARSE_CSR metadata, optional blocks) to dense.

    The metadata walks the dimensions in `traversal_order` (the original dimensions, then the block dimensions);
    a DENSE dimension of size n repeats its children n times, a SPARSE_CSR one lists the indices present through
    `array_segments` and `array_indices`, as in TensorFlow Lite's `FormatConverter`.
    """
    order = list(sparsity.TraversalOrderAsNumpy())
    block_map = list(sparsity.BlockMapAsNumpy()) if sparsity.BlockMapLength() else []
    dims = []
    for i in range(sparsity.DimMetadataLength()):
        meta = sparsity.DimMetadata(i)
        if meta.Format() == 0:  # DENSE
            dims.append(("dense", meta.DenseSize(), None, None))
        else:
            segments = _index_vector(meta.ArraySegments(), meta.ArraySegmentsType())
            indices = _index_vector(meta.ArrayIndices(), meta.ArrayIndicesType())
            dims.append(("csr", None, segments, indices))
    # Expanded shape: original dimensions divided by their block sizes, then the block sizes.
    block_sizes = [dims[len(shape) + k][1] for k in range(len(block_map))]
    expanded = list(shape)
    for k, axis in enumerate(block_map):
        expanded[axis] //= block_sizes[k]
    expanded += block_sizes
    dense = np.zeros(expanded, dtype=values.dtype)
    position = 0

    def walk(level: int, parent: int, coords: list[int]) -> None:
        nonlocal position
        kind, size, segments, indices = dims[level]
        children = (
            [(i, parent * size + i) for i in range(size)]
            if kind == "dense"
            else [(int(indices[j]), j) for j in range(segments[parent], segments[parent + 1])]
        )
        for coordinate, child in children:
            coords[order[level]] = coordinate
            if level + 1 == len(dims):
                dense[tuple(coords)] = values[position]
                position += 1
            else:
                walk(level + 1, child, coords)

    walk(0, 0, [0] * len(expanded))
    if block_map:  # fold each block dimension back into its original dimension
        n = len(shape)
        axes = []
        for axis in range(n):
            axes.append(axis)
            if axis in block_map:
                axes.append(n + block_map.index(axis))
        dense = dense.transpose(axes).reshape(shape)
    return dense


def _index_vector(table: Any, kind: int) -> np.ndarray:
    from ai_edge_litert import schema_py_generated as schema

    cls = {1: schema.Int32Vector, 2: schema.Uint16Vector, 3: schema.Uint8Vector}[kind]
    vector = cls()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy()


class Graph:
    """The operators and constant tensors of a `.tflite` file's first subgraph."""

    def __init__(self, path: str | Path) -> None:
        from ai_edge_litert import schema_py_generated as schema

        self.path = Path(path)
        data = self.path.read_bytes()
        model = schema.Model.GetRootAs(data, 0)
        graph = model.Subgraphs(0)
        op_names = _enum_names(schema.BuiltinOperator)
        type_names = _enum_names(schema.TensorType)
        self.tensors = [graph.Tensors(i) for i in range(graph.TensorsLength())]
        self.names = [t.Name().decode() for t in self.tensors]
        self.shapes = [tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else () for t in self.tensors]
        self.types = [type_names[t.Type()] for t in self.tensors]
        self.inputs = list(graph.InputsAsNumpy())
        self.outputs = list(graph.OutputsAsNumpy())
        self.ops = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            op_type = op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            if op_type == "CUSTOM":
                op_type = f"CUSTOM:{code.CustomCode().decode()}"
            self.ops.append(
                Op(i, op_type, list(op.InputsAsNumpy()), list(op.OutputsAsNumpy()), _options(schema, op, op_type))
            )
        self._raw: dict[int, np.ndarray] = {}
        self._sparsity: dict[int, Any] = {}
        for i, tensor in enumerate(self.tensors):
            buffer = model.Buffers(tensor.Buffer())
            if buffer is not None and buffer.DataLength():
                self._raw[i] = buffer.DataAsNumpy().view(_NUMPY[self.types[i]])
                if tensor.Sparsity() is not None:
                    self._sparsity[i] = tensor.Sparsity()
                else:
                    self._raw[i] = self._raw[i].reshape(self.shapes[i])
        # Where each tensor comes from, so that DEQUANTIZE and DENSIFY outputs lead back to their constant.
        self.producer = {out: op for op in self.ops for out in op.outputs}

    def constant(self, index: int) -> tuple[np.ndarray, str, float] | None:
        """The constant behind tensor `index` (through DEQUANTIZE/DENSIFY) in fp32, its stored type, density."""
        op = self.producer.get(index)
        if op is not None and op.type in ("DEQUANTIZE", "DENSIFY"):
            found = self.constant(op.inputs[0])
            if found is None:
                return None
            array, stored, density = found
            return array.astype(np.float32), stored, density
        if index not in self._raw:
            return None
        raw = self._raw[index]
        if index in self._sparsity:
            dense = _densify(raw, self._sparsity[index], self.shapes[index])
            return dense, f"{self.types[index]} sparse", float((raw != 0).sum() / dense.size)
        return raw, self.types[index], 1.0

    def _needed(self, tensor: int, ops: set[int]) -> set[int]:
        """The indices of the operators that tensor `tensor` depends on."""
        stack = [tensor]
        while stack:
            op = self.producer.get(stack.pop())
            if op is not None and op.index not in ops:
                ops.add(op.index)
                stack.extend(i for i in op.inputs if i >= 0)
        return ops

    def ordered_ops(self, per_output: bool = False) -> list[Op]:
        """The operators in execution order, or with `per_output` grouped by output.

        Grouped, all the operators of the first output come first, then the rest of the second's, and so on: a
        multitask model's heads interleave in execution order, and a port writes one head after the other.
        """
        if not per_output:
            return self.ops
        order: list[Op] = []
        for output in self.outputs:
            done = {op.index for op in order}
            order += [op for op in self.ops if op.index in self._needed(output, set()) - done]
        return order

    def weights(self, per_output: bool = False) -> list[Weight]:
        """Every float constant read by a computing operator, in the order the graph first uses it."""
        found, seen = [], set()
        for op in self.ordered_ops(per_output):
            if op.type in ("DEQUANTIZE", "DENSIFY") or op.type in _STRUCTURE_OPS:
                continue
            for slot, index in enumerate(op.inputs):
                if index < 0 or index in seen:
                    continue
                constant = self.constant(index)
                if constant is None or not np.issubdtype(constant[0].dtype, np.floating):
                    continue
                seen.add(index)
                array, stored, density = constant
                found.append(Weight(self.names[index], array.astype(np.float32), op, slot, stored, density))
        return found


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's SAME padding: at stride 2 on an even size the extra row and column go at the bottom and right."""
    h, w = x.shape[-2:]
    ph = max((-(-h // stride) - 1) * stride + kernel - h, 0)
    pw = max((-(-w // stride) - 1) * stride + kernel - w, 0)
    return torch.nn.functional.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def to_torch_layout(weight: Weight) -> np.ndarray:
    """A LiteRT constant in the layout of the PyTorch parameter that takes it."""
    array = weight.array
    if weight.op.type == "CONV_2D" and weight.slot == 1:
        return array.transpose(0, 3, 1, 2)  # OHWI -> OIHW
    if weight.op.type == "DEPTHWISE_CONV_2D" and weight.slot == 1:
        return array.transpose(3, 0, 1, 2)  # 1HWC -> C1HW
    if weight.op.type in ("TRANSPOSE_CONV", "CUSTOM:Convolution2DTransposeBias") and weight.slot == 1:
        return array.transpose(3, 0, 1, 2)  # OHWI -> IOHW, ConvTranspose2d's layout
    return array


def load(module: nn.Module, weights: list[Weight]) -> list[tuple[str, str]]:
    """Copy `weights` into `module`'s parameters in registration order; returns (parameter, tensor) pairs.

    Raises when a shape differs, when a parameter has no tensor left, or when a tensor is left over: every
    tensor is used exactly once.
    """
    parameters = list(module.named_parameters())
    if len(parameters) != len(weights):
        raise ValueError(f"{len(parameters)} parameters in the port, {len(weights)} weight tensors in the file")
    pairs = []
    with torch.no_grad():
        for (name, parameter), weight in zip(parameters, weights, strict=True):
            array = to_torch_layout(weight)
            if array.size == parameter.numel() and array.ndim != parameter.ndim:
                array = array.reshape(parameter.shape)  # e.g. a per-channel PReLU slope stored as 1x1xC
            if tuple(array.shape) != tuple(parameter.shape):
                raise ValueError(
                    f"{name} has shape {tuple(parameter.shape)}, the file's next tensor {weight.name} "
                    f"({weight.op.type} input {weight.slot}) has {tuple(array.shape)}"
                )
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(array)))
            pairs.append((name, weight.name))
    return pairs


def interpreter_runner(path: str | Path, threads: int = 1) -> Any:
    """The shipped file in LiteRT's interpreter: `run(nhwc_float32) -> {output name: array}`."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    outputs = [(d["name"], d["index"]) for d in interpreter.get_output_details()]

    def run(array: np.ndarray) -> dict[str, np.ndarray]:
        interpreter.set_tensor(input_index, np.ascontiguousarray(array, dtype=np.float32))
        interpreter.invoke()
        return {name: interpreter.get_tensor(index).copy() for name, index in outputs}

    return run


def sparsity(path: str | Path) -> list[dict[str, Any]]:
    """Per weight tensor of a `.tflite`: its operator, shape, stored type and measured sparsity (share of zeros).

    For a tensor stored sparse, `stored_values` counts the values the file keeps (index arrays aside); a dense
    tensor keeps all of them, zeros included.
    """
    rows = []
    for weight in Graph(path).weights():
        zeros = float((weight.array == 0).mean())
        rows.append(
            {
                "tensor": weight.name,
                "op": weight.op.type,
                "shape": list(weight.array.shape),
                "stored": weight.stored,
                "sparsity": zeros,
                "stored_values": round(weight.nonzero_fraction * weight.array.size),
                "dense_values": int(weight.array.size),
            }
        )
    return rows
