import pytest
import torch

from reference_impls import combined


def test_sparse_int8_storage_counts_indices_values_scales_and_biases():
    model = combined.student()
    with torch.no_grad():
        for layer in (model.fc1, model.fc2, model.fc3):
            layer.weight.zero_()
            layer.weight[:, 0] = 1.0  # one weight per row: gaps are row-length apart, bridged by fillers
    dense = combined.dense_fp32_bytes(model)
    assert dense == 4 * sum(p.numel() for p in model.parameters())
    assert combined.sparse_int8_bytes(model) < dense / 20


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
    assert result["teacher_params"] > result["scratch_params"]
