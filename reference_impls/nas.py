r"""Latency-aware neural architecture search: a REINFORCE controller with the MnasNet reward, vs random search.

Zoph and Le, *Neural Architecture Search with Reinforcement Learning*, ICLR 2017,
[arXiv:1611.01578](https://arxiv.org/abs/1611.01578); the reward is MnasNet's: Tan et al., *MnasNet: Platform-Aware
Neural Architecture Search for Mobile*, CVPR 2019, [arXiv:1807.11626](https://arxiv.org/abs/1807.11626).

**Idea.** A controller samples an architecture one decision at a time; the child network is trained and scored; the
score is the reward of a policy-gradient (REINFORCE) update that makes good decisions likelier. MnasNet adds the
phone: the reward multiplies accuracy by a power of the *measured* latency, so the search trades accuracy for speed
on the real device instead of on a MAC count, which predicts latency poorly (memory traffic, per-layer overhead).

**Key equations.** The MnasNet reward for a model $m$ with target latency $T$ (their Eq. 2, soft constraint
$\alpha = \beta = w$):

$$R(m) = \mathrm{ACC}(m) \times \left[\frac{\mathrm{LAT}(m)}{T}\right]^{w}, \qquad w = -0.07,$$

and REINFORCE (Zoph & Le, Eq. 2) with a moving-average baseline $b$ updates the controller's parameters
$\theta_c$ by $\nabla_{\theta_c} \sum_t \log P(a_t; \theta_c)\,(R - b)$.

**Simplifications, said plainly.** The controller is a factorised policy (one learned categorical distribution per
decision) instead of Zoph & Le's RNN, which only matters for long decision chains; the search space is a small
MobileNet-style one (three stages, each choosing its block type, kernel size, width and depth); children train for a
few epochs on scikit-learn's 8×8 digits and are scored on the validation split; latency is the median of batch-1
runs of the child exported to ONNX Runtime (the runtime it would ship in), on one thread of this CPU. Timing eager
PyTorch instead would reward few layers over few MACs: its per-operator Python overhead dominates nets this small.
Both searches get the same budget of evaluated architectures, share a cache of scored ones, and report every point;
the Pareto front is the set of architectures no other beats on both validation accuracy and latency. `kb bench`
runs the experiment over several seeds and compares the two searches' hypervolumes by mean and spread.

## What our run measured

Both searches' points and Pareto fronts (validation accuracy vs measured latency), the hypervolume of each front and
the best architecture's test accuracy are filled in below from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import random
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from reference_impls import _export as export
from reference_impls._data import Split, digits
from reference_impls._measure import latency, summary, threads
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train
from reference_impls.separable import DepthwiseSeparableConv, conv_bn

INPUT_SHAPE = (1, 1, 8, 8)
# One decision list per stage; a stage's first layer may halve the map (stride 2 in stages 2 and 3).
CHOICES = {"block": ("separable", "full"), "kernel": (3, 5), "width": (16, 32, 64), "depth": (1, 2)}
STAGES = 3
DECISIONS = [(stage, key) for stage in range(STAGES) for key in CHOICES]
W = -0.07  # MnasNet's soft-constraint exponent
DEFAULT_ARCH = (0, 0, 1, 0) * STAGES  # separable 3×3 blocks of width 32, one layer per stage


def build_net(arch: tuple[int, ...], num_classes: int = 10) -> nn.Module:
    """The child network of `arch`, one choice index per entry of `DECISIONS`."""
    layers: list[nn.Module] = [conv_bn(1, 16, 3)]
    channels = 16
    for stage in range(STAGES):
        pick = {key: CHOICES[key][arch[stage * len(CHOICES) + i]] for i, key in enumerate(CHOICES)}
        for layer in range(pick["depth"]):
            stride = 2 if stage > 0 and layer == 0 else 1
            if pick["block"] == "separable":
                layers.append(DepthwiseSeparableConv(channels, pick["width"], pick["kernel"], stride))
            else:
                layers.append(conv_bn(channels, pick["width"], pick["kernel"], stride))
            channels = pick["width"]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def describe(arch: tuple[int, ...]) -> str:
    """A readable name: one `block-kernel-width-depth` group per stage."""
    parts = [CHOICES[key][a] for (_, key), a in zip(DECISIONS, arch, strict=True)]
    return " | ".join("{}{}-{}x{}".format(*parts[i : i + 4]) for i in range(0, len(parts), len(CHOICES)))


def mnas_reward(acc: float, latency_ms: float, target_ms: float, w: float = W) -> float:
    """ACC × (LAT / T)^w."""
    return acc * (latency_ms / target_ms) ** w


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other point beats on both accuracy (higher) and latency (lower), by latency."""
    front = [
        p
        for p in points
        if not any(
            q["accuracy"] >= p["accuracy"]
            and q["latency_ms"] <= p["latency_ms"]
            and (q["accuracy"], q["latency_ms"]) != (p["accuracy"], p["latency_ms"])
            for q in points
        )
    ]
    unique = {(p["accuracy"], p["latency_ms"]): p for p in front}
    return sorted(unique.values(), key=lambda p: p["latency_ms"])


def hypervolume(front: list[dict[str, Any]], max_latency_ms: float) -> float:
    """Area dominated by the front in the (latency, accuracy) plane, up to `max_latency_ms` and down to accuracy 0."""
    area, best = 0.0, 0.0
    edges = [p["latency_ms"] for p in front] + [max_latency_ms]
    for p, right in zip(front, edges[1:], strict=True):
        best = max(best, p["accuracy"])
        area += best * max(0.0, right - p["latency_ms"])
    return area


def onnxruntime_latency(net: nn.Module, runs: int) -> float:
    """Median batch-1 latency (ms) of `net` exported to ONNX Runtime, one thread."""
    x = torch.zeros(INPUT_SHAPE)
    with tempfile.TemporaryDirectory(prefix="kb-nas-") as tmp:
        path = Path(tmp) / "child.onnx"
        export.to_onnx(net.eval(), x, path)
        run = export.load_onnxruntime(path, threads=1)
        image = x.numpy()
        return latency(lambda: run(image), warmup=5, runs=runs)["p50_ms"]


@dataclass
class Evaluator:
    """Trains, scores and times child networks, with a cache so that no architecture is trained twice."""

    split: Split
    epochs: int
    seed: int
    runs: int
    target_ms: float = 1.0

    def __post_init__(self) -> None:
        self.cache: dict[tuple[int, ...], dict[str, Any]] = {}

    def __call__(self, arch: tuple[int, ...]) -> dict[str, Any]:
        """Validation accuracy, latency, reward and test accuracy of `arch`."""
        if arch not in self.cache:
            seed_everything(self.seed)
            net = train(build_net(arch), self.split, epochs=self.epochs, lr=3e-3, seed=self.seed, desc=describe(arch))
            self.cache[arch] = {
                "arch": describe(arch),
                "choices": list(arch),
                "accuracy": accuracy(net, self.split.x_val, self.split.y_val),
                "test_accuracy": accuracy(net, self.split.x_test, self.split.y_test),
                "latency_ms": onnxruntime_latency(net, self.runs),
            }
        point = dict(self.cache[arch])
        point["reward"] = mnas_reward(point["accuracy"], point["latency_ms"], self.target_ms)
        return point


def reinforce_search(evaluate: Evaluator, budget: int, seed: int, lr: float = 0.3) -> list[dict[str, Any]]:
    """Zoph & Le's policy gradient with an exponential-moving-average baseline, over a factorised policy."""
    generator = torch.Generator().manual_seed(seed)
    logits = [torch.zeros(len(CHOICES[key]), requires_grad=True) for _, key in DECISIONS]
    optimiser = torch.optim.Adam(logits, lr=lr)
    baseline, points = None, []
    for step in tqdm(range(budget), desc="REINFORCE", disable=None):
        dists = [torch.distributions.Categorical(logits=lg) for lg in logits]
        actions = [int(torch.multinomial(d.probs, 1, generator=generator)) for d in dists]
        point = evaluate(tuple(actions)) | {"step": step}
        points.append(point)
        baseline = point["reward"] if baseline is None else 0.8 * baseline + 0.2 * point["reward"]
        log_prob = sum(d.log_prob(torch.tensor(a)) for d, a in zip(dists, actions, strict=True))
        optimiser.zero_grad()
        # Rewards differ in the second decimal; scaling the advantage keeps the policy steps visible.
        (-(point["reward"] - baseline) * 100 * log_prob).backward()
        optimiser.step()
    return points


def random_search(evaluate: Evaluator, budget: int, seed: int) -> list[dict[str, Any]]:
    """Uniform sampling of the same space with the same budget."""
    rng = random.Random(seed)
    return [
        evaluate(tuple(rng.randrange(len(CHOICES[key])) for _, key in DECISIONS)) | {"step": step}
        for step in tqdm(range(budget), desc="random", disable=None)
    ]


PAPER_VS_OURS = (
    Versus(
        "CIFAR-10 test error",
        lambda m: (1 - m["accuracy"]) * 100,
        setting="MNIST test error of the searched net; a small search space, not CIFAR-10 with 800 GPUs",
        effect="the search finds a net at least as accurate as the hand-made default",
        holds=lambda m: m["accuracy"] >= m["baseline_accuracy"],
    ),
)


@register("nas", arxiv="1611.01578", catalog_id="zoph2017neural", input_shape=INPUT_SHAPE, versus=PAPER_VS_OURS)
def searched_net(arch: tuple[int, ...] = DEFAULT_ARCH) -> nn.Module:
    """A child network of the search space; by default `DEFAULT_ARCH`."""
    return build_net(arch)


@experiment("nas", seeds=3)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """REINFORCE and random search over the space with the MnasNet reward; fronts, hypervolumes, best nets."""
    # Small models: a second thread costs more in synchronisation than it saves, and on a shared machine
    # it competes with the measurement; every figure of this run is single-threaded.
    with threads(1):
        split = digits()
        budget, epochs, runs = (4, 1, 10) if quick else (20, 6, 50)
        evaluate = Evaluator(split, epochs=epochs, seed=seed, runs=runs)
        # The target T: the latency of the default net, measured now, on this machine.
        evaluate.target_ms = evaluate(DEFAULT_ARCH)["latency_ms"]
        controller = reinforce_search(evaluate, budget, seed)
        uniform = random_search(evaluate, budget, seed)
        slowest = max(p["latency_ms"] for p in controller + uniform)
        searches = {"controller": controller, "random": uniform}
        best = {name: max(points, key=lambda p: p["reward"]) for name, points in searches.items()}
        fronts = {name: pareto_front(points) for name, points in searches.items()}
        found = build_net(tuple(best["controller"]["choices"]))
        return {
            **summary(found, torch.zeros(INPUT_SHAPE)),  # params, MACs and size of the net the search found
            "accuracy": best["controller"]["test_accuracy"],
            "baseline_accuracy": best["random"]["test_accuracy"],
            "best_arch": best["controller"]["arch"],
            "best_latency_ms": best["controller"]["latency_ms"],
            "best_reward": best["controller"]["reward"],
            "random_best_arch": best["random"]["arch"],
            "random_best_latency_ms": best["random"]["latency_ms"],
            "random_best_reward": best["random"]["reward"],
            "hypervolume_controller": hypervolume(fronts["controller"], slowest),
            "hypervolume_random": hypervolume(fronts["random"], slowest),
            **{
                f"mean_reward_{name}_last_half": statistics.mean(p["reward"] for p in points[budget // 2 :])
                for name, points in searches.items()
            },
            "target_ms": evaluate.target_ms,
            "w": W,
            "budget": budget,
            "architectures_trained": len(evaluate.cache),
            "seed": seed,
            "quick": quick,
            "curves": {
                "controller": controller,
                "random": uniform,
                "pareto_controller": fronts["controller"],
                "pareto_random": fronts["random"],
            },
        }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a budget of four one-epoch children, for tests")
