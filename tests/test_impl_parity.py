"""Parity that can fail: every registered architecture's outputs depend on its input before the export is compared.

PyTorch's default initialization leaves deep classifiers answering their bias for any input, so an export would
"match" even if it ignored the input. `make_input_dependent` gives variance-preserving weights and batch-norm
statistics from generated inputs; the check then asks for a large `output_spread` across four inputs and a small
`relative_diff` (max |export - eager| / spread). ONNX Runtime runs every architecture (at 64x64 where the network is
fully convolutional, to keep the test short); ExecuTorch and ORT format run the separable layer of
`test_impl_export` and the ported shipped models' own tests.
"""

from __future__ import annotations

import pytest
import torch

from reference_impls._export import export_all, make_input_dependent
from reference_impls._measure import threads
from reference_impls._registry import all_impls

pytestmark = pytest.mark.slow
# The architectures: the image networks registered without an experiment, with random weights (the shipped-model
# ports and the experiment on them carry trained weights and check parity against the original in their own tests).
# EfficientNet B1-B3 are B0's code with other widths and depths: B0 stands for them.
ARCHITECTURES = [
    s.id for s in all_impls() if s.input_shape[1] == 3 and s.experiment is None and s.id[:-1] != "efficientnet_b"
] + ["efficientnet_b0"]
SMALL = {"efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "mobilenet_v1", "mobilenet_v2",
         "resnet50", "resnext50_32x4d", "xception", "blazeface"}  # fmt: skip


@pytest.mark.parametrize("impl_id", ARCHITECTURES)
def test_every_architecture_exports_with_parity_that_could_fail(impl_id: str, tmp_path) -> None:
    spec = next(s for s in all_impls() if s.id == impl_id)
    shape = list(spec.input_shape)
    if impl_id in SMALL:
        shape[-2:] = [96, 96] if impl_id == "xception" else [64, 64]
    with threads(1):
        model = make_input_dependent(spec.build(), shape)
        generator = torch.Generator().manual_seed(1)
        x, *more = [torch.randn(shape, generator=generator) for _ in range(4)]
        (record,) = export_all(model, x, tmp_path, ["onnx"], tolerance=1e-3, more_inputs=more)
    assert record["ok"], record["note"]
    assert record["output_spread"] >= 1e-2, "the outputs barely depend on the input: the parity would mean nothing"
    assert record["relative_diff"] <= 1e-3
