r"""Low-rank factorization: truncated SVD for linear layers, separable and Tucker-2 filters for convolutions.

Jaderberg, Vedaldi and Zisserman, *Speeding up Convolutional Neural Networks with Low Rank Expansions*, BMVC 2014,
[arXiv:1405.3866](https://arxiv.org/abs/1405.3866); Kim, Park, Yoo, Choi, Yang and Shin, *Compression of Deep
Convolutional Neural Networks for Fast and Low Power Mobile Applications*, ICLR 2016,
[arXiv:1511.06530](https://arxiv.org/abs/1511.06530) (catalog: `kim2016compression`).

**Idea.** Trained weight tensors are close to low rank, so a layer can be replaced by a chain of thinner layers
whose product approximates it, then the network is fine-tuned to win back what the approximation lost.

- *Linear layer* ($W \in \mathbb{R}^{m \times n}$): truncated SVD, $W \approx (U_r \sqrt{S_r})(\sqrt{S_r} V_r^\top)$,
  two layers of $r(m + n)$ weights instead of $mn$.
- *Convolution, Jaderberg's scheme 2*: $N$ filters of $C \times d \times d$ become $K$ vertical $d \times 1$ filters
  followed by $N$ horizontal $1 \times d$ filters over the $K$ maps. The best such pair, for the weight
  reconstruction error, is a truncated SVD of the kernel reshaped to a $(C d) \times (d N)$ matrix:
  $W_{n c y x} \approx \sum_{k=1}^{K} V_{k c y} H_{n k x}$.
- *Convolution, Tucker-2 (Kim et al.)*: the kernel $\mathcal{K} \in \mathbb{R}^{N \times C \times d \times d}$
  becomes $\mathcal{K} \approx \mathcal{G} \times_1 U^{(N)} \times_2 U^{(C)}$: a $1 \times 1$ convolution down to
  $R_C$ channels, a $d \times d$ core convolution to $R_N$ channels and a $1 \times 1$ convolution back up to $N$.
  The factors come from the higher-order SVD (leading singular vectors of the mode unfoldings).

**Rank selection.** Kim et al. pick Tucker ranks with variational Bayesian matrix factorization; we use the simpler
energy rule: per factorization, the smallest rank that keeps a fraction $e$ of the squared singular values. One
knob $e$ sets every layer's rank, the sweep over $e$ gives the accuracy-vs-cost curve, and the default model is the
cheapest point whose fine-tuned *validation* accuracy is within 0.5 percentage points of the baseline's. A layer is
factorized only where that saves MACs: past the break-even rank the chain of thin layers costs more than the layer.

**Setup.** The LeNet-5-style net of `reference_impls.pruning` on the 3,500 MNIST training images: conv1 gets the
separable scheme (one input channel leaves Tucker nothing to reduce), conv2 Tucker-2, fc1 truncated SVD; the last
10-way layer is too small to matter. MACs are counted by `reference_impls._measure`. Latency is the median of timed
forward passes of a batch of 64 test images at one thread; baseline and factorized net are timed alternately, three
times each, and the lowest median of each is kept, so that a burst of load from other processes does not decide the
ratio.

**Export.** The factorized model is made of ordinary convolutions and linear layers, so it exports as it is.

## What our run measured

The measured MACs ratio, latency speedup and accuracy before and after fine-tuning at each energy level are filled
in below from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from reference_impls._data import Split, mnist, subset
from reference_impls._measure import count_macs, latency, state_dict_bytes, threads
from reference_impls._models import LeNet5
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train

ENERGIES = (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05)  # down to where accuracy falls
LAYER_INPUTS = {"conv1": (1, 1, 28, 28), "conv2": (1, 20, 12, 12), "fc1": (1, 800)}  # what each layer of LeNet5 sees


def rank_for_energy(singular_values: torch.Tensor, energy: float) -> int:
    """Smallest rank whose leading singular values keep `energy` of the total squared sum."""
    kept = torch.cumsum(singular_values**2, 0) / (singular_values**2).sum()
    return int(torch.searchsorted(kept, torch.tensor(energy)).item()) + 1


def svd_linear(layer: nn.Linear, rank: int) -> nn.Sequential:
    """Replace W (out x in) by two linear layers of rank `rank`; sqrt(S) goes to both to balance their scales."""
    u, s, vh = torch.linalg.svd(layer.weight.detach(), full_matrices=False)
    first, second = nn.Linear(layer.in_features, rank, bias=False), nn.Linear(rank, layer.out_features)
    with torch.no_grad():
        first.weight.copy_(s[:rank, None].sqrt() * vh[:rank])
        second.weight.copy_(u[:, :rank] * s[:rank].sqrt())
        second.bias.copy_(layer.bias)
    return nn.Sequential(first, second)


def separable_matrix(layer: nn.Conv2d) -> torch.Tensor:
    """The kernel as the (C d) x (d N) matrix whose rank-K SVD gives Jaderberg's vertical and horizontal filters."""
    n, c, d, _ = layer.weight.shape
    return layer.weight.detach().permute(1, 2, 3, 0).reshape(c * d, d * n)


def separable_conv(layer: nn.Conv2d, rank: int) -> nn.Sequential:
    """Jaderberg's scheme 2: `rank` vertical d x 1 filters, then N horizontal 1 x d filters (no padding, stride 1)."""
    n, c, d, _ = layer.weight.shape
    u, s, vh = torch.linalg.svd(separable_matrix(layer), full_matrices=False)
    vertical, horizontal = nn.Conv2d(c, rank, (d, 1), bias=False), nn.Conv2d(rank, n, (1, d))
    with torch.no_grad():
        vertical.weight.copy_((u[:, :rank] * s[:rank].sqrt()).T.reshape(rank, c, d, 1))
        horizontal.weight.copy_((s[:rank, None].sqrt() * vh[:rank]).reshape(rank, d, n).permute(2, 0, 1)[:, :, None])
        horizontal.bias.copy_(layer.bias)
    return nn.Sequential(vertical, horizontal)


def mode_factors(layer: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """HOSVD factors of a kernel: (U_out, singular values of mode 0, U_in, singular values of mode 1)."""
    w = layer.weight.detach()
    u_out, s_out, _ = torch.linalg.svd(w.flatten(1), full_matrices=False)
    u_in, s_in, _ = torch.linalg.svd(w.transpose(0, 1).flatten(1), full_matrices=False)
    return u_out, s_out, u_in, s_in


def tucker2_conv(layer: nn.Conv2d, rank_in: int, rank_out: int) -> nn.Sequential:
    """Kim et al.'s Tucker-2: 1x1 down to `rank_in`, the d x d core to `rank_out`, 1x1 up to N output channels."""
    u_out, _, u_in, _ = mode_factors(layer)
    u_out, u_in = u_out[:, :rank_out], u_in[:, :rank_in]
    core = torch.einsum("ncyx,nr,cs->rsyx", layer.weight.detach(), u_out, u_in)
    first = nn.Conv2d(layer.in_channels, rank_in, 1, bias=False)
    middle = nn.Conv2d(rank_in, rank_out, layer.kernel_size, layer.stride, layer.padding, bias=False)
    last = nn.Conv2d(rank_out, layer.out_channels, 1)
    with torch.no_grad():
        first.weight.copy_(u_in.T[:, :, None, None])
        middle.weight.copy_(core)
        last.weight.copy_(u_out[:, :, None, None])
        last.bias.copy_(layer.bias)
    return nn.Sequential(first, middle, last)


def decompose(model: LeNet5, energy: float) -> tuple[LeNet5, dict[str, Any]]:
    """A factorized copy of `model`, every rank set by the energy rule; returns the model and its ranks.

    A layer is replaced only where its factorization costs fewer MACs than the layer itself: at high energy the
    ranks can pass the break-even point (for a linear layer, r > mn / (m + n)), and then factorizing would slow it.
    """
    _, s_out, _, s_in = mode_factors(model.conv2)
    ranks = {
        "conv1": rank_for_energy(torch.linalg.svdvals(separable_matrix(model.conv1)), energy),
        "conv2_in": rank_for_energy(s_in, energy),
        "conv2_out": rank_for_energy(s_out, energy),
        "fc1": rank_for_energy(torch.linalg.svdvals(model.fc1.weight.detach()), energy),
    }
    candidates = {
        "conv1": separable_conv(model.conv1, ranks["conv1"]),
        "conv2": tucker2_conv(model.conv2, ranks["conv2_in"], ranks["conv2_out"]),
        "fc1": svd_linear(model.fc1, ranks["fc1"]),
    }
    out, factorized = copy.deepcopy(model), []
    for name, layer in candidates.items():
        x = torch.zeros(LAYER_INPUTS[name])
        if count_macs(layer, x) < count_macs(getattr(model, name), x):
            setattr(out, name, layer)
            factorized.append(name)
    return out, {**ranks, "factorized": ",".join(factorized)}


def speedup(baseline: nn.Module, factorized: nn.Module, x: torch.Tensor, runs: int) -> float:
    """Median latency of `baseline` over that of `factorized` on batch `x`, one thread, timed alternately."""
    medians: dict[int, list[float]] = {0: [], 1: []}
    with threads(1), torch.inference_mode():
        for _ in range(3):  # alternate so that a burst of load on a shared machine hits both alike
            for i, model in enumerate((baseline, factorized)):
                medians[i].append(latency(lambda m=model: m(x), warmup=2, runs=runs)["p50_ms"])
    return min(medians[0]) / min(medians[1])


def evaluate(baseline: LeNet5, split: Split, energy: float, *, epochs: int, seed: int, runs: int) -> dict[str, Any]:
    """Factorize at one energy level, fine-tune, and measure accuracy, MACs and speed."""
    model, ranks = decompose(baseline, energy)
    x1, batch = split.x_test[:1], split.x_test[:64]
    before = accuracy(model, split.x_test, split.y_test)
    train(model, split, epochs=epochs, lr=3e-4, seed=seed, desc=f"fine-tune e={energy}")
    return {
        "energy": energy,
        **{k if k == "factorized" else f"rank_{k}": v for k, v in ranks.items()},
        "accuracy_before_finetune": before,
        "accuracy": accuracy(model, split.x_test, split.y_test),
        "val_accuracy": accuracy(model, split.x_val, split.y_val),
        "macs": count_macs(model, x1),
        "params": sum(p.numel() for p in model.parameters()),
        "fp32_bytes": state_dict_bytes(model),  # of this factorized model, as every figure of the row
        "macs_ratio": count_macs(baseline, x1) / count_macs(model, x1),
        "latency_speedup": speedup(baseline, model, batch, runs),
    }


PAPER_VS_OURS = (
    Versus(
        "Speed-up with less than 1% accuracy drop",
        "latency_speedup",
        setting="LeNet-5 on MNIST in eager PyTorch at batch 64, not the paper's text-recognition CNN",
        effect="faster than the unfactorized net with less than 1 pp accuracy drop",
        holds=lambda m: m["latency_speedup"] > 1 and m["accuracy"] >= m["baseline_accuracy"] - 0.01,
    ),
)


@register(
    "low_rank", arxiv="1405.3866", catalog_id="jaderberg2014speeding", input_shape=(1, 1, 28, 28), versus=PAPER_VS_OURS
)
def low_rank_lenet5(energy: float = 0.9) -> nn.Module:
    """The LeNet-5-style net factorized at energy `energy` (untrained weights: the structure and its MACs)."""
    return decompose(LeNet5(), energy)[0]


@experiment("low_rank", seeds=3)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train LeNet-5, factorize it at several energy levels, fine-tune each, and pick a rank on validation."""
    split = subset(mnist()) if quick else mnist()
    seed_everything(seed)
    baseline = LeNet5()
    train(baseline, split, epochs=1 if quick else 6, lr=1e-3, seed=seed, desc="baseline LeNet-5")
    baseline_val = accuracy(baseline, split.x_val, split.y_val)
    energies = (0.9, 0.6) if quick else ENERGIES
    curve = [
        evaluate(baseline, split, e, epochs=1 if quick else 2, seed=seed, runs=5 if quick else 20) for e in energies
    ]
    # Rank selection on validation: the cheapest model within 0.5 pp of the baseline, else the most accurate one.
    within = [p for p in curve if p["val_accuracy"] >= baseline_val - 0.005]
    chosen = min(within, key=lambda p: p["macs"]) if within else max(curve, key=lambda p: p["val_accuracy"])
    cheapest = min(p["macs"] for p in curve)
    x1 = split.x_test[:1]
    return {
        **{k: v for k, v in chosen.items() if k != "val_accuracy"},
        "baseline_accuracy": accuracy(baseline, split.x_test, split.y_test),
        "baseline_val_accuracy": baseline_val,
        "chosen_val_accuracy": chosen["val_accuracy"],
        "chosen_at_grid_edge": chosen["macs"] == cheapest,  # then the grid should reach further
        "baseline_macs": count_macs(baseline, x1),
        "baseline_params": sum(p.numel() for p in baseline.parameters()),
        "seed": seed,
        "quick": quick,
        "curves": {"accuracy_vs_rank": curve},
    }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a few seconds on a data subset, for tests")
