import pytest
import torch

from reference_impls import multitask
from reference_impls._measure import count_macs, count_params


def test_stroke_thickness_of_drawn_bars():
    # A vertical bar w pixels wide and 20 long has area 20w and boundary 2·20 + 2(w − 2): thickness ≈ w.
    images = torch.zeros(3, 1, 28, 28)
    for i, w in enumerate((2, 3, 4)):
        images[i, 0, 4:24, 10 : 10 + w] = 1.0
    t = multitask.stroke_thickness(images)
    assert torch.all(t[1:] > t[:-1])
    assert torch.allclose(t, torch.tensor([2.0, 3.0, 4.0]), atol=0.4)


def test_shared_backbone_costs_one_backbone_less_exactly():
    x = torch.zeros(multitask.INPUT_SHAPE)
    shared, separate, backbone = multitask.SharedNet(), multitask.SeparateNets(), multitask.backbone()
    assert count_params(separate) - count_params(shared) == count_params(backbone)
    assert count_macs(separate, x) - count_macs(shared, x) == count_macs(backbone, x)
    # The backbone is one module shared by both heads, not a copy per head.
    logits, thickness = shared(x)
    assert logits.shape == (1, 10) and thickness.shape == (1,)
    assert sum(1 for m in shared.modules() if isinstance(m, torch.nn.Conv2d)) == 2


@pytest.mark.slow
def test_quick_run_reports_both_models_side_by_side():
    result = multitask.run(quick=True)
    assert result["macs_ratio"] < 0.55 and result["params_ratio"] < 0.55
    for key in ("params", "macs", "latency_ms", "accuracy", "thickness_mae"):
        assert f"shared_{key}" in result and f"separate_{key}" in result
    assert result["shared_macs"] == count_macs(multitask.SharedNet(), torch.zeros(multitask.INPUT_SHAPE))
    sweep = result["curves"]["loss_weight_sweep"]
    assert [row["weight"] for row in sweep] == list(multitask.WEIGHTS)
    assert result["loss_weight"] == max(sweep, key=lambda row: row["val_accuracy"])["weight"]
