"""Pruning and distilling the shipped BlazeFace (needs `python scripts/fetch_models.py`)."""

import torch

from reference_impls import blazeface_front as bf
from reference_impls import blazeface_pruning as bp
from tests.conftest import SHIPPED

pytestmark = SHIPPED


def test_only_the_blocks_pointwise_layers_are_pruned_each_by_the_same_fraction():
    teacher = bp.blazeface_pruning()
    model, masks = bp.pruned(teacher, 0.5)
    layers = bp.convolutions(model)
    assert len(layers) == len(bf.BLOCKS) == len(masks)
    for layer in layers:
        assert layer.kernel_size == (1, 1)
        assert abs((layer.weight == 0).float().mean().item() - 0.5) < 0.01
    for (name, kept), (_, source) in zip(model.named_modules(), teacher.named_modules(), strict=True):
        if isinstance(kept, torch.nn.Conv2d) and not name.endswith(".pointwise"):
            assert torch.equal(kept.weight, source.weight)  # stem, depthwise and heads stay dense


def test_distillation_keeps_pruned_weights_at_zero_and_moves_the_student_towards_the_teacher():
    teacher = bp.blazeface_pruning()
    student, masks = bp.pruned(teacher, 0.4)
    images = bf.calibration_inputs(8, seed=1)
    with torch.no_grad():
        before = bp.distillation_loss(student(images), teacher(images)).item()
    bp.distil(student, teacher, images, masks, steps=10, seed=0, batch=8, lr=3e-4)
    for layer, mask in zip(bp.convolutions(student), masks, strict=True):
        assert torch.all(layer.weight[mask == 0] == 0)
    with torch.no_grad():
        after = bp.distillation_loss(student(images), teacher(images)).item()
    assert after < before
