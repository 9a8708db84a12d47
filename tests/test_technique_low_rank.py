import pytest
import torch
from torch import nn

from reference_impls._measure import count_macs
from reference_impls._models import LeNet5
from reference_impls.low_rank import decompose, rank_for_energy, run, separable_conv, svd_linear, tucker2_conv


def relative_error(original: nn.Module, approx: nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        return float((original(x) - approx(x)).norm() / original(x).norm())


def test_svd_error_shrinks_with_rank_and_vanishes_at_full_rank():
    torch.manual_seed(0)
    layer, x = nn.Linear(80, 50), torch.randn(16, 80)
    errors = [relative_error(layer, svd_linear(layer, r), x) for r in (5, 10, 20, 40)]
    assert errors == sorted(errors, reverse=True) and errors[0] > errors[-1]
    assert relative_error(layer, svd_linear(layer, 50), x) < 1e-5


def test_separable_filters_error_shrinks_with_rank():
    torch.manual_seed(0)
    layer, x = nn.Conv2d(3, 8, 5), torch.randn(2, 3, 16, 16)
    errors = [relative_error(layer, separable_conv(layer, k), x) for k in (1, 3, 6, 15)]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-5  # rank min(C d, d N) = 15 is exact


def test_tucker2_error_shrinks_with_rank():
    torch.manual_seed(0)
    layer, x = nn.Conv2d(20, 50, 5), torch.randn(2, 20, 12, 12)
    errors = [
        relative_error(layer, tucker2_conv(layer, r_in, r_out), x)
        for r_in, r_out in ((2, 5), (5, 10), (10, 25), (20, 50))
    ]
    assert errors == sorted(errors, reverse=True)
    assert errors[-1] < 1e-5  # full ranks reproduce the kernel


def test_rank_for_energy():
    s = torch.tensor([3.0, 2.0, 1.0, 0.1])
    assert rank_for_energy(s, 0.5) == 1
    assert rank_for_energy(s, 0.95) == 3
    assert rank_for_energy(s, 1.0) == 4


def test_lower_energy_means_fewer_macs():
    torch.manual_seed(0)
    model, x = LeNet5(), torch.zeros(1, 1, 28, 28)
    macs = [count_macs(decompose(model, e)[0], x) for e in (0.99, 0.5)]
    assert macs == sorted(macs, reverse=True)
    assert macs[-1] < count_macs(model, x)


@pytest.mark.slow
def test_quick_run_reports_a_cheaper_model():
    result = run(quick=True)
    assert result["macs_ratio"] == pytest.approx(result["baseline_macs"] / result["macs"])
    assert result["macs_ratio"] > 1
    assert result["latency_speedup"] > 0
    assert len(result["curves"]["accuracy_vs_rank"]) == 2
