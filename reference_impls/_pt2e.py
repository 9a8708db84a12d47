"""PT2E post-training int8 with XNNPACK's quantizer, and keeping chosen submodules in fp32 under any PT2E quantizer.

A PT2E quantizer annotates every node of an exported graph; `prepare_pt2e` puts observers where the annotations
say, and `convert_pt2e` turns them into quantize/dequantize pairs. To leave a submodule in fp32, `keep_float`
drops the annotations of every node that submodule produced, so no observer goes there and its neighbours quantize
and dequantize at its border. The same subclass serves ExecuTorch's XNNPACK quantizer here and LiteRT's quantizer
inside `.venv-litert` (`export.to_tflite`), which is why this module imports nothing beyond torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn


def inside(paths: Sequence[str], keep: Sequence[str]) -> bool:
    """Whether one of a node's module `paths` is a module of `keep` or lies under one."""
    return any(p == k or p.startswith(k + ".") for p in paths for k in keep)


def keep_float(quantizer: type, keep: Sequence[str]) -> Any:
    """An instance of a subclass of the PT2E `quantizer` class that leaves the submodules in `keep` unannotated.

    `keep` holds module paths as `torch.export` records them in each node's `nn_module_stack` (`model.top_down.2`
    for a port wrapped in `export.Named`).
    """

    class KeepFloat(quantizer):  # type: ignore[misc, valid-type]
        def annotate(self, graph: torch.fx.GraphModule) -> torch.fx.GraphModule:
            graph = super().annotate(graph)
            for node in graph.graph.nodes:
                if inside([path for path, _ in node.meta.get("nn_module_stack", {}).values()], keep):
                    node.meta.pop("quantization_annotation", None)
            return graph

    return KeepFloat()


def xnnpack_quantizer(keep: Sequence[str] = (), *, qat: bool = False) -> Any:
    """XNNPACK's quantizer: per-channel symmetric int8 weights, per-tensor int8 activations; `keep` stays fp32."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )

    config = get_symmetric_quantization_config(is_per_channel=True, is_qat=qat)
    return keep_float(XNNPACKQuantizer, keep).set_global(config)


def export_graph(model: nn.Module, example: torch.Tensor, *, dynamic_batch: bool = False) -> nn.Module:
    """`torch.export` of `model` as a graph module; `dynamic_batch` leaves the batch size free (1 to 4096)."""
    dims = {"x": {0: torch.export.Dim("batch", min=1, max=4096)}} if dynamic_batch else None
    return torch.export.export(model, (example,), dynamic_shapes=dims).module()


@torch.no_grad()
def pt2e_int8(model: nn.Module, calibration: torch.Tensor, keep: Sequence[str] = (), *, batch: int = 1) -> nn.Module:
    """PT2E int8 for XNNPACK, calibrated on `calibration` (N, ...) in batches of `batch`; `keep` stays fp32.

    With `batch` > 1 the graph is exported with a free batch size, so the same quantized graph also evaluates
    whole test sets.
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    graph = export_graph(model.eval(), calibration[:batch], dynamic_batch=batch > 1)
    prepared = prepare_pt2e(graph, xnnpack_quantizer(keep))
    for start in range(0, calibration.shape[0], batch):
        prepared(calibration[start : start + batch])
    return convert_pt2e(prepared)


def sensitivity(
    model: nn.Module,
    calibration: torch.Tensor,
    units: Mapping[str, Sequence[str]],
    score: Callable[[nn.Module], float],
) -> list[dict[str, Any]]:
    """`score` of the PT2E int8 graph with nothing kept in fp32, then with each of `units` kept in fp32 alone.

    The quantized graphs run in PyTorch, which computes what the int8 program computes (each quantized operator as
    dequantize, float operator, quantize), so a sweep ranks the units without lowering one program per unit.
    """
    return [
        {"kept_in_fp32": name, "agreement": score(pt2e_int8(model, calibration, keep))}
        for name, keep in ({"none": ()} | dict(units)).items()
    ]
