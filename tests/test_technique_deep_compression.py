import math

import numpy as np
import pytest
import torch
from torch import nn

from reference_impls import _container as container
from reference_impls._models import LeNet300100
from reference_impls.deep_compression import (
    LAYERS,
    SharedWeightLinear,
    canonical_codes,
    decode_layer,
    encode_layer,
    huffman_decode,
    huffman_encode,
    read_huffman,
    run,
    write_fixed_width,
    write_huffman,
)
from reference_impls.pruning import magnitude_mask


def test_huffman_round_trips_bit_exactly_and_beats_fixed_width_on_skewed_data():
    rng = np.random.default_rng(0)
    symbols = np.minimum(rng.geometric(0.3, size=5000) - 1, 31)
    stream = huffman_encode(symbols, 32)
    assert np.array_equal(huffman_decode(stream), symbols)
    lengths = list(stream.lengths)
    assert len(stream.data) == math.ceil(sum(lengths[s] for s in symbols) / 8)
    assert len(stream.data) < 5000 * 5 / 8
    codes = list(canonical_codes(lengths).values())
    assert not any(a != b and b.startswith(a) for a in codes for b in codes)  # prefix-free


def test_single_symbol_stream():
    stream = huffman_encode(np.zeros(10, dtype=np.int64), 4)
    assert np.array_equal(huffman_decode(stream), np.zeros(10))


def test_shared_weights_encode_and_decode_bit_exactly():
    torch.manual_seed(0)
    layer = nn.Linear(300, 100)
    with torch.no_grad():
        layer.weight.mul_(magnitude_mask(layer.weight, 0.9))
    shared = SharedWeightLinear(layer, bits=4)
    assert torch.unique(shared.weight[shared.mask]).numel() <= 16
    assert torch.all(shared.weight[~shared.mask] == 0)
    encoded = encode_layer(shared)
    weight, bias = decode_layer(encoded)
    assert torch.equal(weight, shared.weight.detach())
    assert torch.equal(bias, shared.bias.detach())


def test_the_compressed_file_alone_rebuilds_the_model_and_is_smaller_than_the_dense_file(tmp_path):
    torch.manual_seed(0)
    dense = LeNet300100()
    model = LeNet300100()
    for name in LAYERS:
        layer = getattr(dense, name)
        with torch.no_grad():
            layer.weight.mul_(magnitude_mask(layer.weight, 0.9))
        setattr(model, name, SharedWeightLinear(layer, bits=4))
    size = write_huffman({n: encode_layer(getattr(model, n)) for n in LAYERS}, tmp_path / "m.kbpack")
    assert size == (tmp_path / "m.kbpack").stat().st_size
    decoded = read_huffman(tmp_path / "m.kbpack")
    for name in LAYERS:
        assert torch.equal(decoded.state_dict()[f"{name}.weight"], getattr(model, name).weight.detach())
    dense_size = container.write_dense(dense, tmp_path / "dense.kbpack")
    assert dense_size > 4 * sum(p.numel() for p in dense.parameters())  # the real file, manifest included
    assert size < write_fixed_width(model, 4, tmp_path / "fixed.kbpack") < dense_size / 5


def test_centroid_gradient_is_the_sum_over_its_cluster():
    torch.manual_seed(0)
    shared = SharedWeightLinear(nn.Linear(20, 10), bits=2)
    x = torch.randn(8, 20)
    shared(x).sum().backward()
    dense = shared.weight.detach().clone().requires_grad_(True)
    nn.functional.linear(x, dense, shared.bias.detach()).sum().backward()
    expected = torch.zeros(4).index_add_(0, shared.index.flatten(), (dense.grad * shared.mask).flatten())
    assert torch.allclose(shared.codebook.grad, expected, atol=1e-5)


@pytest.mark.slow
def test_quick_run_decodes_to_the_same_model():
    result = run(quick=True)
    assert result["decoded_exact"]
    assert result["accuracy"] == result["shared_model_accuracy"]
    assert result["compressed_bytes"] < result["quantized_bytes"] < result["dense_bytes"]
    assert result["compression_ratio"] == pytest.approx(result["dense_bytes"] / result["compressed_bytes"])
