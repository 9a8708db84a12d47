import pytest
import torch

from reference_impls.hashed_nets import HashedLinear, HashedNet, connection_hashes, count_params, run, to_dense


def test_hashed_layer_has_the_stated_number_of_real_parameters():
    layer = HashedLinear(784, 1000, buckets=98_000, seed=0)
    assert count_params(layer) == 98_000 + 1000
    assert set(layer.state_dict()) == {"weight", "bias"}  # the hashes are recomputed, not stored
    assert layer.virtual_weight().shape == (1000, 784)
    assert torch.unique(layer.virtual_weight().abs()).numel() <= 98_000


def test_net_at_one_64th():
    net = HashedNet(1 / 64)
    assert net.fc1.weight.numel() == round(784_000 / 64)
    assert net.fc2.weight.numel() == round(10_000 / 64)


def test_hashes_are_deterministic_and_spread_over_buckets():
    index, sign = connection_hashes((100, 50), 64, seed=3)
    again, _ = connection_hashes((100, 50), 64, seed=3)
    assert torch.equal(index, again)
    assert index.min() == 0 and index.max() == 63
    assert torch.bincount(index.flatten()).min() > 40  # 5000 connections over 64 buckets, about 78 each
    assert 0.4 < (sign > 0).float().mean() < 0.6
    assert not torch.equal(index, connection_hashes((100, 50), 64, seed=4)[0])


def test_dense_equivalent_computes_the_same_function():
    torch.manual_seed(0)
    net = HashedNet(1 / 8).eval()
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(net(x), to_dense(net)(x), atol=1e-6)


def test_gradient_of_a_bucket_is_the_signed_sum_of_its_connections():
    layer = HashedLinear(6, 5, buckets=4, seed=1)
    x = torch.randn(3, 6)
    layer(x).sum().backward()
    virtual = layer.virtual_weight().detach().requires_grad_(True)
    torch.nn.functional.linear(x, virtual, layer.bias.detach()).sum().backward()
    expected = torch.zeros(4).index_add_(0, layer.index.flatten(), (virtual.grad * layer.sign).flatten())
    assert torch.allclose(layer.weight.grad, expected, atol=1e-6)


@pytest.mark.slow
def test_quick_run_compares_equal_budgets():
    result = run(quick=True)
    for factor in (8, 64):
        assert result[f"small_dense_params_1_{factor}"] <= result[f"hashed_params_1_{factor}"]
        assert result[f"winner_1_{factor}"] in {"hashed", "dense", "tie"}
    assert result["compression_ratio"] == pytest.approx(result["baseline_bytes"] / result["hashed_bytes_1_8"])
    # Two real files: within a few hundred manifest bytes of the parameter ratio.
    assert result["compression_ratio"] == pytest.approx(result["baseline_params"] / result["hashed_params_1_8"], 0.01)
    assert result["compression_ratio_1_64"] > 50
    # The paper's headline, which holds even on the quick subset with seed 0: at 1/64 of the weights, hashing
    # beats a dense net of the same size.
    assert result["hashed_accuracy_1_64"] > result["small_dense_accuracy_1_64"]
    assert result["hashed_accuracy_1_8"] == result["hashed_accuracy_before_writing_1_8"]  # the file is the model
