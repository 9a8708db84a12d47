import pytest
import torch

from reference_impls import _container as container
from reference_impls import combined


def test_the_sparse_int8_file_alone_rebuilds_the_model_within_one_rounding_step(tmp_path):
    torch.manual_seed(0)
    model = combined.student()
    with torch.no_grad():
        for layer in (model.fc1, model.fc2, model.fc3):
            layer.weight.mul_(torch.rand_like(layer.weight) > 0.9)  # 90% zeros, as after pruning
    size = combined.write_sparse_int8(model, tmp_path / "int8.kbpack")
    rebuilt = combined.load_sparse_int8(combined.student(), tmp_path / "int8.kbpack")
    for layer, back in ((model.fc1, rebuilt.fc1), (model.fc2, rebuilt.fc2), (model.fc3, rebuilt.fc3)):
        step = layer.weight.abs().amax(dim=1, keepdim=True) / 127
        assert torch.all((back.weight - layer.weight).abs() <= step / 2 + 1e-7)
        assert torch.all(back.weight[layer.weight == 0] == 0)  # pruned weights stay pruned
        assert torch.equal(back.bias, layer.bias)
    dense = container.write_dense(model, tmp_path / "dense.kbpack")
    assert size == (tmp_path / "int8.kbpack").stat().st_size
    assert dense / size > 12  # 10% of weights, 1 byte + 5/8 byte of index each, against 4 bytes for all


@pytest.mark.slow
def test_quick_pipeline_reports_every_stage():
    result = combined.run(quick=True)
    for name in ("teacher", "scratch", "distilled", "pruned", "int8"):
        assert 0.1 < result[f"{name}_accuracy"] <= 1.0  # above chance (10 classes) even on the quick subset
    assert result["pruned_sparsity"] >= 0.79
    # Relative indices of 5 bits with 1-byte values instead of 4-byte ones: (5/8 + 4) / (5/8 + 1) ≈ 2.8x.
    assert result["int8_bytes"] < result["pruned_bytes"] / 2.5
    assert result["pruned_bytes"] < result["distilled_bytes"] / 2  # 80% of weights gone, indices added
    assert result["compression_ratio"] == pytest.approx(result["scratch_bytes"] / result["int8_bytes"])
    assert result["compressed_file_bytes"] == result["int8_bytes"]
    assert result["int8_onnx_int8_bytes"] > result["int8_bytes"]  # the dense int8 file keeps every zero
    assert result["teacher_params"] > result["scratch_params"]
