import itertools
import random

import pytest
import torch

from reference_impls import nas


def test_mnas_reward_penalises_latency_softly():
    assert nas.mnas_reward(0.9, 1.0, 1.0) == pytest.approx(0.9)
    slower, faster = nas.mnas_reward(0.9, 2.0, 1.0), nas.mnas_reward(0.9, 0.5, 1.0)
    assert slower < 0.9 < faster
    assert slower == pytest.approx(0.9 * 2.0**-0.07)


def test_pareto_front_keeps_exactly_the_non_dominated_points():
    rng = random.Random(0)
    points = [{"accuracy": rng.random(), "latency_ms": rng.random()} for _ in range(40)]
    front = nas.pareto_front(points)
    for p in points:
        dominated = any(q["accuracy"] > p["accuracy"] and q["latency_ms"] < p["latency_ms"] for q in points)
        assert (p in front) != dominated
    # Along the front, slower points must be more accurate.
    assert all(a["accuracy"] < b["accuracy"] for a, b in itertools.pairwise(front))


def test_hypervolume_of_a_single_point():
    assert nas.hypervolume([{"accuracy": 0.5, "latency_ms": 1.0}], 3.0) == pytest.approx(1.0)


def test_every_architecture_of_the_space_builds_and_runs():
    rng = random.Random(1)
    for _ in range(5):
        arch = tuple(rng.randrange(len(nas.CHOICES[key])) for _, key in nas.DECISIONS)
        assert nas.build_net(arch)(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
        assert len(nas.describe(arch).split(" | ")) == nas.STAGES


@pytest.mark.slow
def test_quick_search_returns_valid_fronts():
    result = nas.run(quick=True)
    for name in ("controller", "random"):
        points, front = result["curves"][name], result["curves"][f"pareto_{name}"]
        assert len(points) == result["budget"]
        assert front and all(p in points for p in front)
        assert result[f"hypervolume_{name}"] > 0
    assert result["architectures_trained"] <= 2 * result["budget"] + 1
    best = max(result["curves"]["controller"], key=lambda p: p["reward"])
    found = nas.build_net(tuple(best["choices"]))
    assert result["params"] == sum(p.numel() for p in found.parameters())  # the record describes the found net
