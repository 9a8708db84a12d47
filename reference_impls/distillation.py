r"""Knowledge distillation: a small student trained on a large teacher's softened outputs.

Hinton, Vinyals and Dean, *Distilling the Knowledge in a Neural Network*, NIPS 2014 Deep Learning Workshop,
[arXiv:1503.02531](https://arxiv.org/abs/1503.02531).

**Idea.** A trained teacher's output distribution says more than the label: which wrong classes look plausible
for this image ("dark knowledge"). Raising the softmax temperature $T$ spreads that distribution so the small
probabilities carry weight, and the student is trained to match it as well as the labels. The student's
architecture and budget do not change; only its training signal does.

**Key equation.** With student logits $z$, teacher logits $v$, $p^T = \mathrm{softmax}(z / T)$ and
$q^T = \mathrm{softmax}(v / T)$,

$$\mathcal{L} = \alpha\, T^2\, \mathrm{KL}\big(q^T \,\|\, p^T\big) + (1 - \alpha)\,
\mathrm{CE}\big(\mathrm{softmax}(z), y\big).$$

The soft term's gradients scale as $1/T^2$ (Section 2), so it is multiplied by $T^2$ to keep the balance between
the two terms when $T$ changes; `tests/test_technique_distillation.py` checks that the gradient then stays the same
size across temperatures.

**Setup.** As in the paper's MNIST experiment, the teacher is regularised by training on images jittered by up to
two pixels, and the student sees the unjittered images only; what the teacher learnt about shifts can reach the
student only through its soft targets. Teacher: the LeNet-5-style conv net of `pruning` (431k parameters, 2.3M
MACs), trained on the 3,500 MNIST training images; its logits are computed once. Student: a 784-128-10 MLP (102k
parameters, 0.1M MACs, no convolutions). The student is trained with the same optimiser, epochs and data order
twice per seed, once from the labels alone ("scratch") and once with the loss above ("KD"), over several seeds;
$T$ and $\alpha$ are chosen on the validation split, never on the test split.

## What our run measured

Mean ± standard deviation of the student's test accuracy with and without distillation over the seeds, the
teacher's accuracy and the chosen temperature are filled in below from the results file of `kb bench` (never typed
by hand).
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from reference_impls._data import Split, mnist, subset
from reference_impls._measure import threads
from reference_impls._models import LeNet5
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import LossFn, accuracy, seed_everything, train

TEMPERATURES = (4.0, 8.0)
ALPHAS = (0.5, 0.9)


def mlp(hidden: tuple[int, ...], num_classes: int = 10) -> nn.Sequential:
    """A fully connected net on flattened 28×28 images."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, num_classes))


def teacher_net() -> nn.Module:
    """The large teacher: the LeNet-5-style conv net of `pruning` (431,080 parameters)."""
    return LeNet5()


def jittered_cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the batch shifted by up to two pixels in each direction, as the paper's MNIST teacher saw it."""
    shift_y, shift_x = torch.randint(0, 5, (2,)).tolist()
    return F.cross_entropy(model(F.pad(x, (2, 2, 2, 2))[..., shift_y : shift_y + 28, shift_x : shift_x + 28]), y)


def train_teacher(split: Split, epochs: int, seed: int) -> nn.Module:
    """The teacher, trained on jittered images: it learns the shift invariance that the student will inherit."""
    seed_everything(seed)
    return train(
        teacher_net(), split, epochs=epochs, lr=1e-3, seed=seed, loss_fn=jittered_cross_entropy, desc="teacher"
    )


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, temperature: float, alpha: float
) -> torch.Tensor:
    """Hinton's loss: α·T²·KL(teacher_T ‖ student_T) + (1 − α)·cross-entropy with the labels."""
    student_log_p = F.log_softmax(student_logits / temperature, dim=1)
    teacher_log_p = F.log_softmax(teacher_logits / temperature, dim=1)
    soft = F.kl_div(student_log_p, teacher_log_p, reduction="batchmean", log_target=True)
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student_logits, labels)


@torch.no_grad()
def with_teacher_logits(split: Split, teacher: nn.Module) -> Split:
    """The split with the teacher's logits riding along with each training label, as columns 1-10 of `y_train`.

    The teacher runs once over the training images instead of once per student step; `training.train` indexes
    `y_train` by batch, so each batch gets its own rows and `distillation_loss` unpacks them.
    """
    teacher.eval()
    logits = torch.cat([teacher(split.x_train[i : i + 500]) for i in range(0, len(split.x_train), 500)])
    return replace(split, y_train=torch.cat([split.y_train[:, None].float(), logits], dim=1))


def distillation_loss(temperature: float, alpha: float) -> LossFn:
    """The `(model, x, y) -> loss` of `training.train` on a split made by `with_teacher_logits`."""

    def loss(student: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return kd_loss(student(x), y[:, 1:], y[:, 0].long(), temperature, alpha)

    return loss


def train_student(split: Split, seed: int, epochs: int, loss_fn: LossFn | None = None, desc: str = "") -> nn.Module:
    """The student, initialised from `seed` and trained with `loss_fn` (labels only when None)."""
    seed_everything(seed)
    extra = {} if loss_fn is None else {"loss_fn": loss_fn}
    return train(student_net(), split, epochs=epochs, lr=1e-3, seed=seed, desc=desc, **extra)


def choose_temperature(kd_split: Split, epochs: int, seed: int) -> tuple[float, float, float]:
    """The (T, α) of the grid with the best validation accuracy of the distilled student, and that accuracy."""
    scores = {}
    for t in TEMPERATURES:
        for a in ALPHAS:
            student = train_student(kd_split, seed, epochs, distillation_loss(t, a), desc=f"grid T={t} α={a}")
            scores[(t, a)] = accuracy(student, kd_split.x_val, kd_split.y_val)
    (t, a), best = max(scores.items(), key=lambda item: item[1])
    return t, a, best


PAPER_VS_OURS = (
    Versus(
        "MNIST test errors of the distilled",
        lambda m: (1 - m["kd_accuracy_mean"]) * 10_000,
        setting="errors per 10,000 test images; a 784-128-10 MLP student on 3,500 training images, not 60,000",
        effect="the distilled student makes fewer errors than the same net trained alone (mean over seeds)",
        holds=lambda m: m["kd_accuracy_mean"] > m["scratch_accuracy_mean"],
    ),
    Versus(
        "MNIST test errors of the same small",
        lambda m: (1 - m["scratch_accuracy_mean"]) * 10_000,
        setting="errors per 10,000 test images, the same student trained on the labels alone",
        effect="the gap between the two exceeds the spread over seeds",
        holds=lambda m: (
            m["kd_accuracy_mean"] - m["scratch_accuracy_mean"] > max(m["kd_accuracy_std"], m["scratch_accuracy_std"])
        ),
    ),
)


@register(
    "distillation",
    arxiv="1503.02531",
    catalog_id="hinton2015distilling",
    input_shape=(1, 1, 28, 28),
    versus=PAPER_VS_OURS,
)
def student_net() -> nn.Module:
    """The small student (784-128-10)."""
    return mlp((128,))


@experiment("distillation")
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train the teacher, pick T and α on validation, then the student with and without KD over several seeds."""
    # Small models: a second thread costs more in synchronisation than it saves, and on a shared machine
    # it competes with the measurement; every figure of this run is single-threaded.
    with threads(1):
        split = mnist()
        if quick:  # a data subset, two seeds, few epochs: checks the mechanics, not the accuracy
            split = subset(split, train=500, val=200, test=500)
        teacher_epochs, epochs, n_seeds = (2, 3, 2) if quick else (12, 20, 5)
        seed_everything(seed)
        teacher = train_teacher(split, teacher_epochs, seed)
        kd_split = with_teacher_logits(split, teacher)
        temperature, alpha, val_accuracy = choose_temperature(kd_split, epochs, seed + 1000)
        kd, scratch = [], []
        for s in tqdm(range(seed, seed + n_seeds), desc="seeds", disable=None):
            kd_student = train_student(kd_split, s, epochs, distillation_loss(temperature, alpha), desc="KD")
            kd.append(accuracy(kd_student, split.x_test, split.y_test))
            scratch.append(accuracy(train_student(split, s, epochs, desc="scratch"), split.x_test, split.y_test))
        return {
            "accuracy": statistics.mean(kd),
            "baseline_accuracy": statistics.mean(scratch),
            "kd_accuracy_mean": statistics.mean(kd),
            "kd_accuracy_std": statistics.stdev(kd),
            "scratch_accuracy_mean": statistics.mean(scratch),
            "scratch_accuracy_std": statistics.stdev(scratch),
            "kd_wins": sum(k > s for k, s in zip(kd, scratch, strict=True)),
            "seeds": list(range(seed, seed + n_seeds)),  # the record names every seed it ran
            "teacher_accuracy": accuracy(teacher, split.x_test, split.y_test),
            "teacher_params": sum(p.numel() for p in teacher.parameters()),
            "student_params": sum(p.numel() for p in student_net().parameters()),
            "temperature": temperature,
            "alpha": alpha,
            "kd_val_accuracy": val_accuracy,
            "seed": seed,
            "quick": quick,
            "curves": {
                "per_seed": [
                    {"seed": s, "kd_accuracy": k, "scratch_accuracy": a}
                    for s, k, a in zip(range(seed, seed + n_seeds), kd, scratch, strict=True)
                ]
            },
        }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a data subset and two seeds, for tests")
