"""ONNX Runtime's static int8 quantization, as the quantization technique and every shipped port use it.

`ort_static_int8` turns an fp32 `.onnx` file into an int8 one calibrated on real inputs; `ort_weight_type`
chooses its weight type for this CPU, because the right choice depends on an instruction the CPU may lack.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from kb.bench.environment import INT8_DOT_PRODUCT, cpu_info


def ort_static_int8(
    fp32_path: str,
    int8_path: str,
    calibration: torch.Tensor,
    *,
    signed: bool = False,
    operators: bool = False,
    percentile: bool = False,
    exclude: Sequence[str] = (),
) -> None:
    """ONNX Runtime static quantization: per-channel 8-bit weights; uint8 activations in QDQ format by default.

    `signed` stores activations as int8 instead of uint8; `operators` writes fused QLinearConv/QLinearMatMul nodes
    (QOperator format) instead of QuantizeLinear/DequantizeLinear pairs around float operators for the runtime to fuse.
    `percentile` sets each activation's range from the 0.001st to the 99.999th percentile of its calibration values
    instead of their minimum and maximum, so that one outlier does not coarsen every step of a layer.
    `exclude` names ONNX nodes that stay fp32 (`export.to_onnx(keep=...)` lists a submodule's nodes).
    Weights are int8 where the CPU has an int8 dot-product instruction and uint8 where it has not (`ort_weight_type`);
    with `signed` activations they are int8, the only pairing ONNX Runtime accepts for them.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.images = iter(calibration.numpy())

        def get_next(self) -> dict[str, np.ndarray] | None:
            image = next(self.images, None)
            return None if image is None else {"x": image[None]}

    quantize_static(
        fp32_path,
        int8_path,
        Reader(),
        quant_format=QuantFormat.QOperator if operators else QuantFormat.QDQ,
        per_channel=True,
        nodes_to_exclude=list(exclude),
        calibrate_method=CalibrationMethod.Percentile if percentile else CalibrationMethod.MinMax,
        activation_type=QuantType.QInt8 if signed else QuantType.QUInt8,
        # ONNX Runtime pairs int8 activations with int8 weights only (S8S8).
        weight_type=QuantType.QInt8 if signed or ort_weight_type() == "int8" else QuantType.QUInt8,
    )


def ort_weight_type() -> str:
    """The weight type ONNX Runtime's int8 kernels compute correctly on this CPU: "int8" or "uint8".

    Without an int8 dot-product instruction (VNNI, AMX, Arm's dot product), ONNX Runtime's x86 kernels multiply
    uint8 activations by int8 weights with `vpmaddubsw`, which adds pairs of products into int16 and saturates
    (2 · 255 · 127 > 32767), so a layer whose products are large gives wrong sums. ONNX Runtime's quantization guide
    names uint8 weights (U8U8) as the remedy on such CPUs; with the instruction, int8 weights.
    """
    return "int8" if any(flag in cpu_info()["isa"] for flag in INT8_DOT_PRODUCT) else "uint8"
