import math

import pytest
import torch

from reference_impls import _container as container
from reference_impls._data import mnist, subset
from reference_impls._models import LeNet5, LeNet300100
from reference_impls.pruning import (
    decode_layer,
    encode_layer,
    iterative_prune,
    load_sparse,
    magnitude_mask,
    prunable,
    run,
    sparsity,
    write_sparse,
)


def test_magnitude_mask_removes_exactly_the_smallest_weights():
    torch.manual_seed(0)
    w = torch.randn(300, 100)
    mask = magnitude_mask(w, 0.9)
    assert int((mask == 0).sum()) == round(0.9 * w.numel())
    assert w[mask == 1].abs().min() >= w[mask == 0].abs().max()


def test_retraining_keeps_pruned_weights_at_zero():
    split = subset(mnist())
    model = LeNet300100()
    targets = {"fc1": 0.95, "fc2": 0.9, "fc3": 0.5}
    masks, curve = iterative_prune(model, split, targets, rounds=2, epochs=1, lr=1e-3, seed=0)
    layers = prunable(model)
    for name, target in targets.items():
        weight = layers[name].weight
        assert torch.all(weight[masks[name] == 0] == 0)
        assert int((weight == 0).sum()) >= round(target * weight.numel())
    expected = sum(round(t * layers[n].weight.numel()) for n, t in targets.items()) / sum(
        m.weight.numel() for m in layers.values()
    )
    assert sparsity(model) == pytest.approx(expected, abs=1e-4)
    assert [s for s, _ in curve] == sorted(s for s, _ in curve)


@pytest.mark.parametrize("bits", [5, 8])
def test_relative_index_format_round_trips_and_has_the_stated_size(bits):
    torch.manual_seed(0)
    w = torch.randn(50, 20, 5, 5) * (torch.rand(50, 20, 5, 5) > 0.93)
    encoded = encode_layer(w, bits)
    assert torch.equal(decode_layer(encoded), w)
    nonzeros = int((w != 0).sum())
    assert encoded.count >= nonzeros
    assert len(encoded.gaps) == math.ceil(encoded.count * bits / 8)
    assert len(encoded.values) == 4 * encoded.count
    assert encoded.nbytes == len(encoded.gaps) + len(encoded.values)


def test_long_gaps_get_filler_entries():
    w = torch.zeros(1, 200)
    w[0, 0], w[0, 100] = 1.0, 2.0  # gap of 100 with 5-bit gaps (at most 32): fillers at 32, 64, 96
    encoded = encode_layer(w, 5)
    assert encoded.count == 5
    assert torch.equal(decode_layer(encoded), w)


def test_the_sparse_file_alone_rebuilds_the_pruned_model(tmp_path):
    torch.manual_seed(0)
    model = LeNet5()
    with torch.no_grad():
        for m in prunable(model).values():
            m.weight.mul_(magnitude_mask(m.weight, 0.9))
    size = write_sparse(model, tmp_path / "sparse.kbpack")
    rebuilt = load_sparse(LeNet5(), tmp_path / "sparse.kbpack")
    for key, value in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value)
    dense = container.write_dense(model, tmp_path / "dense.kbpack")
    assert size == (tmp_path / "sparse.kbpack").stat().st_size and dense / size > 4


def test_conv_net_shapes():
    assert LeNet5()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in LeNet300100().parameters()) == 266_610


@pytest.mark.slow
def test_quick_run_prunes_both_nets_and_stores_them_smaller():
    result = run(quick=True)
    for prefix in ("", "conv_"):
        assert result[f"{prefix}sparsity"] > 0.3
        assert result[f"{prefix}sparse_bytes"] < result[f"{prefix}dense_bytes"]
        assert result[f"{prefix}decoded_accuracy"] == result[f"{prefix}accuracy"]  # the file holds the model
        assert 0.1 < result[f"{prefix}accuracy"] <= 1.0  # above chance (10 classes) even on the quick subset
    for prefix, model in (("", LeNet300100()), ("conv_", LeNet5())):
        sizes = {name: m.weight.numel() for name, m in prunable(model).items()}
        overall = sum(result[f"{prefix}sparsity_{name}"] * n for name, n in sizes.items()) / sum(sizes.values())
        assert result[f"{prefix}sparsity"] == pytest.approx(overall, abs=1e-6)  # per-layer figures add up
    points = result["curves"]["accuracy_vs_sparsity"]
    assert points[0]["sparsity"] == 0.0 and points[-1]["sparsity"] == pytest.approx(result["sparsity"])
