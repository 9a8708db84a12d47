r"""HashedNets: compressing neural networks with the hashing trick.

Chen, Wilson, Tyree, Weinberger and Chen, *Compressing Neural Networks with the Hashing Trick*, ICML 2015,
[arXiv:1504.04788](https://arxiv.org/abs/1504.04788).

**Idea.** A layer keeps a large *virtual* weight matrix but stores only $K$ real weights. A hash function $h$ maps
every connection $(i, j)$ to one of the $K$ buckets, and a second hash $\xi$ gives it a sign, so that connections
sharing a bucket do not all pull in the same direction. Nothing about which weights share is learned or stored:
the hashes recompute it, so the memory is $K$ numbers per layer however large the virtual layer is. Training is
ordinary backpropagation; the gradient of a real weight is the signed sum of the gradients of its connections.

**Key equation.**

$$V_{ij} = \xi(i, j)\, w_{h(i, j)}, \qquad h(i, j) \in \{0, \dots, K-1\},\ \xi(i, j) \in \{-1, +1\}.$$

**The comparison that matters.** At $1/8$ and $1/64$ of the parameters of a 784-1000-10 network, a HashedNet
keeps 1,000 virtual hidden units; the honest alternative is a plain dense net shrunk to the same number of real
parameters (a narrower hidden layer). Both are trained with the same recipe on the 3,500 MNIST training images,
next to the full 784-1000-10 baseline. Parameters are counted in full: hashed weights plus the dense biases (biases
are not hashed). The compression ratio is that of two files (`reference_impls._container`'s format): the
baseline's fp32 weights against the HashedNet's buckets and biases with its seed, and the HashedNet's accuracy is
scored on the model rebuilt from its file. The hash is a SplitMix64 mix of the connection's flat index and a
per-layer seed (the paper used xxHash); index and sign use different seeds.

**Export.** No mobile runtime has a hashed layer, so the exported model is the dense equivalent: `to_dense`
materialises the virtual weights into an ordinary `nn.Linear` stack with identical outputs. The saving is in
storage (the hashes are recomputed at load time), not in compute.

## What our run measured

The measured accuracies of the hashed and the equally small dense nets at each compression factor, which of the
two wins, and the accuracy-vs-compression curve are filled in below from the results file of `kb bench` (never
typed by hand).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_impls import _container as container
from reference_impls._data import mnist, subset
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train

HIDDEN = 1000


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a cheap 64-bit mix whose output bits look independent of the input."""
    with np.errstate(over="ignore"):  # the arithmetic is meant to wrap modulo 2^64
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def connection_hashes(shape: tuple[int, int], buckets: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Bucket index h(i, j) and sign xi(i, j) of every connection of a weight matrix of `shape`."""
    flat = np.arange(shape[0] * shape[1], dtype=np.uint64)
    index = splitmix64(flat ^ splitmix64(np.uint64(2 * seed))) % np.uint64(buckets)
    sign = (splitmix64(flat ^ splitmix64(np.uint64(2 * seed + 1))) >> np.uint64(63)).astype(np.float32) * 2 - 1
    return torch.from_numpy(index.astype(np.int64)).view(shape), torch.from_numpy(sign).view(shape)


class HashedLinear(nn.Linear):
    """A linear layer whose `out x in` virtual weights share `buckets` real weights through hashing.

    It subclasses `nn.Linear` so that MAC counters see what it computes (a dense `out x in` product), but it
    skips `nn.Linear.__init__`, which would allocate the full weight matrix.
    """

    def __init__(self, in_features: int, out_features: int, buckets: int, seed: int) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)  # nn.Linear's initial range, so virtual weights start as a dense layer's
        self.weight = nn.Parameter(torch.empty(buckets).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        index, sign = connection_hashes((out_features, in_features), buckets, seed)
        # Not persistent: the hashes are recomputed from the seed, so they take no storage.
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("sign", sign, persistent=False)

    def virtual_weight(self) -> torch.Tensor:
        """The `out x in` matrix V = xi * w[h]."""
        return self.weight[self.index] * self.sign

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the virtual layer; the gather's backward sums each bucket's signed gradients."""
        return nn.functional.linear(x, self.virtual_weight(), self.bias)


class HashedNet(nn.Module):
    """A 784-1000-10 network whose two layers keep `compression` of their weights as real parameters."""

    def __init__(self, compression: float, hidden: int = HIDDEN, seed: int = 0) -> None:
        super().__init__()
        self.fc1 = HashedLinear(784, hidden, max(1, round(784 * hidden * compression)), seed=2 * seed)
        self.fc2 = HashedLinear(hidden, 10, max(1, round(hidden * 10 * compression)), seed=2 * seed + 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of 1x28x28 images."""
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def dense_net(hidden: int) -> nn.Sequential:
    """A plain 784-hidden-10 network: the full baseline, or the equally small competitor."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def hidden_for_budget(params: int) -> int:
    """The widest hidden layer of a dense 784-h-10 net with at most `params` parameters (795 h + 10)."""
    return max(1, (params - 10) // (784 + 1 + 10))


def count_params(model: nn.Module) -> int:
    """Real (stored) parameters: hashed buckets and biases, never the virtual weights."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def to_dense(model: HashedNet) -> nn.Sequential:
    """The dense equivalent that gets exported: the virtual weights written into plain linear layers."""
    dense = dense_net(model.fc1.bias.numel())
    for target, source in ((dense[1], model.fc1), (dense[3], model.fc2)):
        target.weight.copy_(source.virtual_weight())
        target.bias.copy_(source.bias)
    return dense.eval()


PAPER_VS_OURS = (
    Versus(
        "Smallest storage fraction",
        "compression_ratio_1_64",
        setting="a 784-1000-10 net on 3,500 MNIST images; the baseline's file over the hashed net's file",
        effect="at 1/64 of the weights the hashed net beats a dense net of the same size",
        holds=lambda m: m["hashed_accuracy_1_64"] > m["small_dense_accuracy_1_64"],
    ),
)


@register(
    "hashed_nets",
    arxiv="1504.04788",
    catalog_id="chen2015compressing",
    input_shape=(1, 1, 28, 28),
    versus=PAPER_VS_OURS,
)
def hashed_net(compression: float = 1 / 8) -> nn.Module:
    """A 784-1000-10 HashedNet at 1/8 of the parameters."""
    return HashedNet(compression)


@experiment("hashed_nets", seeds=5)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train the full net, then a HashedNet and an equally small dense net at each compression factor."""
    split = subset(mnist()) if quick else mnist()
    epochs = 1 if quick else 10
    factors = (8, 64) if quick else (4, 8, 16, 32, 64)

    def fit(model: nn.Module, name: str) -> float:
        train(model, split, epochs=epochs, lr=1e-3, seed=seed, desc=name)
        return accuracy(model, split.x_test, split.y_test)

    folder = Path(tempfile.mkdtemp(prefix="kb-hashed-"))
    seed_everything(seed)
    baseline = dense_net(HIDDEN)
    results: dict[str, Any] = {
        "baseline_accuracy": fit(baseline, "baseline 784-1000-10"),
        "baseline_params": count_params(baseline),
        "baseline_bytes": container.write_dense(baseline, folder / "baseline.kbpack"),
    }
    curve = []
    for factor in factors:
        seed_everything(seed)
        hashed = HashedNet(1 / factor, seed=seed)
        budget = count_params(hashed)
        small = dense_net(hidden_for_budget(budget))
        trained = fit(hashed, f"hashed 1/{factor}")
        path = folder / f"hashed-{factor}.kbpack"
        stored = container.write_dense(hashed, path, compression=1 / factor, seed=seed)  # the hashes: recomputed
        rebuilt = container.load_dense(HashedNet(1 / factor, seed=seed), path)
        point = {
            "factor": factor,
            "hashed_params": budget,
            "hashed_bytes": stored,
            "small_dense_params": count_params(small),
            "small_dense_hidden": hidden_for_budget(budget),
            "compression_ratio": results["baseline_bytes"] / stored,
            "hashed_accuracy": accuracy(rebuilt, split.x_test, split.y_test),
            "hashed_accuracy_before_writing": trained,
            "small_dense_accuracy": fit(small, f"dense, same budget as 1/{factor}"),
        }
        point["winner"] = (
            "hashed"
            if point["hashed_accuracy"] > point["small_dense_accuracy"]
            else ("dense" if point["hashed_accuracy"] < point["small_dense_accuracy"] else "tie")
        )
        curve.append(point)
        if factor == 8:  # the headline figures: 1/8 of the parameters
            results |= {"accuracy": point["hashed_accuracy"], "compression_ratio": point["compression_ratio"]}
        results |= {f"{key}_1_{factor}": value for key, value in point.items() if key != "factor"}
    shutil.rmtree(folder)
    return {**results, "seed": seed, "quick": quick, "curves": {"accuracy_vs_compression": curve}}


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a few seconds on a data subset, for tests")
