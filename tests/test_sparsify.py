"""A model rotated by `denoise_rotate` (global placement) and pruned by `sparsify` saves and loads back in a fresh process
with its zeros and outputs intact (what the notebooks cannot show: a fresh load)."""
import torch
from rotprune.data import tiny_model, tiny_batches
from rotprune.entropy import denoise_rotate
from rotprune.sparsify import sparsify
from rotprune.pipeline import check_roundtrip


def test_rotate_prune_roundtrip():
    model, bs = tiny_model('llama', dtype=torch.float32), tiny_batches(n_batches=3)
    model, rep = denoise_rotate(model, bs, 'sparsegpt', steps=10)
    assert rep.attrs['added_params'] == 0  # the global placement adds no module
    model, rep = sparsify(model, bs, 'sparsegpt', None, nm=(2, 4))
    assert (rep.sparsity == 0.5).all()
    r = check_roundtrip(model, bs)
    assert r['max_abs_diff'] == 0, r
