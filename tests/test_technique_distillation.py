import pytest
import torch
from torch.nn import functional as F

from reference_impls import distillation
from reference_impls._data import mnist, subset
from reference_impls._measure import count_macs, count_params
from reference_impls._registry import get


def soft_term_grad(temperature: float) -> torch.Tensor:
    torch.manual_seed(0)
    student = torch.randn(8, 10, requires_grad=True)
    teacher = student.detach() + 0.1 * torch.randn(8, 10)
    labels = torch.zeros(8, dtype=torch.long)
    distillation.kd_loss(student, teacher, labels, temperature, alpha=1.0).backward()
    return student.grad


def test_kd_loss_is_the_temperature_scaled_kl_plus_cross_entropy():
    torch.manual_seed(1)
    student, teacher = torch.randn(16, 10), torch.randn(16, 10)
    labels = torch.randint(0, 10, (16,))
    t, alpha = 4.0, 0.7
    p_teacher = F.softmax(teacher / t, dim=1)
    kl = (p_teacher * (p_teacher.log() - F.log_softmax(student / t, dim=1))).sum(1).mean()
    expected = alpha * t**2 * kl + (1 - alpha) * F.cross_entropy(student, labels)
    assert torch.allclose(distillation.kd_loss(student, teacher, labels, t, alpha), expected, rtol=1e-5)


def test_t_squared_keeps_the_soft_gradient_the_same_size_across_temperatures():
    # Hinton et al., Sec. 2.1: without T², the soft gradients shrink as 1/T²; with it their size stays put.
    g4, g16 = soft_term_grad(4.0).norm(), soft_term_grad(16.0).norm()
    assert 0.8 < (g16 / g4).item() < 1.25


def test_identical_student_and_teacher_give_zero_soft_loss():
    logits = torch.randn(4, 10)
    assert distillation.kd_loss(logits, logits, torch.zeros(4, dtype=torch.long), 3.0, 1.0).abs() < 1e-6


def test_registered_student_is_much_cheaper_than_teacher():
    x = torch.zeros(1, 1, 28, 28)
    student, teacher = get("distillation").build(), distillation.teacher_net()
    assert count_params(student) * 4 < count_params(teacher)
    assert count_macs(student, x) * 20 < count_macs(teacher, x)


def test_teacher_logits_ride_along_with_the_labels():
    split = subset(mnist(), train=100, val=10, test=10)
    teacher = distillation.teacher_net().eval()
    kd_split = distillation.with_teacher_logits(split, teacher)
    assert torch.equal(kd_split.y_train[:, 0].long(), split.y_train)
    with torch.no_grad():
        assert torch.allclose(kd_split.y_train[:, 1:], teacher(split.x_train), atol=1e-5)


@pytest.mark.slow
def test_quick_run_reports_both_students_over_seeds():
    result = distillation.run(quick=True)
    assert len(result["seeds"]) >= 2 and len(result["curves"]["per_seed"]) == len(result["seeds"])
    for key in ("kd_accuracy_mean", "scratch_accuracy_mean"):
        assert 0.1 < result[key] <= 1.0  # above chance (10 classes) even on the quick subset
    for key in ("kd_accuracy_std", "scratch_accuracy_std"):
        assert 0.0 <= result[key] < 0.2 and result[key] != result[key.replace("std", "mean")]
    assert result["accuracy"] == result["kd_accuracy_mean"]
    assert result["temperature"] in distillation.TEMPERATURES and result["alpha"] in distillation.ALPHAS
    assert result["teacher_accuracy"] > 0.5  # the teacher learnt something even on the quick subset
