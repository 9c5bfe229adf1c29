"""Device discipline: every pruning path runs on a model on `default_device()` without mixing devices.

There is no GPU here, so `FakeCuda` (tests/fake_cuda.py) plays one: the model and calibration batches are moved to
'cuda', and any operation that mixes them with a CPU tensor raises, as CUDA would. The pruned model must stay on the
device and compute what the same recipe computes on the CPU.
"""
import copy
import pytest
import torch
from fake_cuda import FakeCuda, MixedDevice
from rotprune.core import default_device
from rotprune.data import tiny_model, tiny_batches
from rotprune.eval import perplexity
from rotprune.pipeline import prune, RECIPES
from rotprune.invariance import fuse_norms

def _on(fc, batches): return [{k: fc.mark(v.clone()) for k, v in b.items()} for b in batches]


def test_fake_cuda_catches_mixing():
    "The check itself: a CPU tensor meeting a 'cuda' one raises; 0-d scalars, CPU indices and copies are allowed."
    with FakeCuda() as fc:
        assert default_device().type == 'cuda'
        x = torch.ones(3, 3).to(default_device())
        assert x.device.type == 'cuda' and (x @ x).device.type == 'cuda'
        assert torch.zeros(3, device=x.device).add(x[0]).device.type == 'cuda'
        with pytest.raises(MixedDevice): x + torch.zeros(3)  # the bug of issue 23, item 4
        with pytest.raises(MixedDevice): x.numpy()
        x * torch.tensor(2.); x[torch.tensor([0, 2])]; torch.empty(3).copy_(x[0])
        assert x.cpu().device.type == 'cpu' and (x.cpu() + torch.zeros(3)).shape == (3, 3)
        c = torch.ones(3); g = c.to('cuda')  # moving makes a copy: the original stays on the CPU
        assert g.device.type == 'cuda' and c.device.type == 'cpu'
        with pytest.raises(MixedDevice): g + c  # the classic bug: the copy moved, the original used
        with pytest.raises(MixedDevice): c[torch.tensor([0, 1]).cuda()]


PREP = {'cob': fuse_norms}  # a change of basis of the residual stream needs the norms fused first


@pytest.mark.parametrize('family', ['llama', 'gpt2', 'qwen2'])
@pytest.mark.parametrize('recipe', list(RECIPES))
def test_recipe_on_device(family, recipe):
    "Each recipe prunes a model on the (fake) GPU: no mixed devices, the result stays there and equals the CPU run."
    if family == 'qwen2' and not (recipe in ('slicegpt', 'slicegpt-blocks', 'cob') or recipe.startswith('denoise')): pytest.skip('qwen2: the tied-head paths only')
    if recipe in ('magnitude-sp', 'magnitude-50') and family == 'gpt2': pytest.skip('same path as llama')
    if recipe.startswith('denoise') and family == 'gpt2': pytest.skip('DenoiseRotator takes Llama-family decoders')
    if recipe == 'slicegpt-blocks' and family == 'gpt2': pytest.skip("SliceGPT's shortcut layers take Llama-family decoders")
    bs, amount, prep = tiny_batches(n_batches=2), 0.25 if '2:4' not in recipe else None, PREP.get(recipe, lambda m: m)
    ref, _ = prune(prep(tiny_model(family, dtype=torch.float32)), bs, recipe, amount)
    with FakeCuda() as fc:  # the pages' setup: the model on the GPU, the calibration batches on the CPU
        m = prep(tiny_model(family, dtype=torch.float32).to(default_device()))
        m, rep = prune(m, bs, recipe, amount)
        assert all(p.device.type == 'cuda' for p in m.parameters())
        ppl = perplexity(m, _on(fc, bs))
    sd, rsd = m.state_dict(), ref.state_dict()
    assert sd.keys() == rsd.keys()
    for k in sd: torch.testing.assert_close(sd[k], rsd[k], rtol=1e-4, atol=1e-5, msg=k)
    assert ppl == pytest.approx(perplexity(ref, bs), rel=1e-4)


def test_flap_site_that_drops_nothing():
    "Issue 23, item 4: FLAP's bias compensation of a site that removes no unit made a CPU zero vector."
    bs = tiny_batches(n_batches=2)
    with FakeCuda() as fc:
        m = tiny_model('llama', dtype=torch.float32).to(default_device())
        _, rep = prune(m, _on(fc, bs), 'flap', 0.1)
    heads = rep[rep.kind == 'heads']
    assert len(heads) and (heads.width_after == heads.width_before).any(), rep  # the path under test: a site keeps every unit


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa: torch.testing.assert_close(sa[k], sb[k], rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.parametrize('method', ['random', 'norm', 'svd', 'svd-data', 'projective'])
def test_qk_on_device(method):
    "Chapter 5's full-mode study (q/k dimensions of GPT-2) on the device."
    from rotprune.qk import qk_prune, qk_moments
    from rotprune.projective import projective_prune
    bs = tiny_batches(n_batches=2)
    def run(m, b):
        if method == 'projective': return projective_prune(m, None, 0.25, sites='qk')[0]
        return qk_prune(m, None, 0.25, method, stats=qk_moments(m, b) if method == 'svd-data' else None)[0]
    ref = run(tiny_model('gpt2', dtype=torch.float32), bs)
    with FakeCuda() as fc:
        m = run(tiny_model('gpt2', dtype=torch.float32).to(default_device()), _on(fc, bs))
        perplexity(m, _on(fc, bs))
    _same(m, ref)


def test_rotation_study_on_device():
    "Chapter 6's full-mode study (entropy rotations, then each pruner) on the device."
    from rotprune.entropy import rotation_study, StudyDesign
    bs = tiny_batches(n_batches=2)
    with FakeCuda() as fc:
        m = tiny_model('llama', dtype=torch.float32).to(default_device())
        b = _on(fc, bs)
        res, curve = rotation_study(m, b, lambda x: perplexity(x, b), StudyDesign(curve=('sparsegpt', '2:4', 0, 1, 2)), steps=2)
    assert res['metric'].notna().all() and len(curve) == 3


def test_vgg_train_and_sweep_on_device(tmp_path):
    "Chapters 2 and 3's full-mode CIFAR-10 path (train with checkpoints, then the pruning sweeps) on the device."
    from rotprune.tsra import train_cifar10, TrainingRun
    from rotprune.experiments import prune_sweep, threshold_sweep
    g = torch.Generator().manual_seed(0)
    data = {k: (torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)) for k, n in (('train', 32), ('val', 16), ('test', 16))}
    with FakeCuda() as fc:
        dev = {k: (fc.mark(x.clone()), fc.mark(y.clone())) for k, (x, y) in data.items()}
        net, hist = train_cifar10('tsra', TrainingRun(steps=3, batch_size=8, eval_every=2, checkpoint_every=1), data=dev, width=1 / 32,
                                  path=tmp_path / 'v.pt', progress=False)
        assert all(p.device.type == 'cuda' for p in net.parameters())
        cal = list(dev['train'][0].split(16))
        sweep = prune_sweep(net, cal, *dev['test'], amounts=(.3,), progress=False)
        ths = threshold_sweep(net, cal, dev, thresholds=(.1,), methods=('CoB',), progress=False,
                              finetune=dict(steps=2, batch_size=8, eval_every=1, warmup=0))
    assert len(sweep) == 4 and len(ths) == 1
