"Cross-layer (global) selection of projective pruning: budget, per-site counts, identical layers, bad input."
import copy
import pytest
import torch
from torch import nn
from rotprune.projective import ProjectiveRule, projective_prune, select_global, select_projective
from rotprune.select import keep_count

torch.set_num_threads(1)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 12), nn.ReLU(), nn.Linear(12, 24), nn.ReLU(),
                         nn.Linear(24, 3)).double()


@pytest.mark.parametrize('amount', [0.1, 0.3, 0.5, 0.7])
@pytest.mark.parametrize('redistribute', [None, 'multiplicative', 'additive'])
def test_global_removes_the_requested_total(amount, redistribute):
    m = _mlp()
    x = torch.randn(64, 8, dtype=torch.float64)
    pm, rep = projective_prune(m, [x], amount, rule=ProjectiveRule(redistribute=redistribute), allocation='global')
    total = rep.width_before.sum()
    assert rep.width_after.sum() == keep_count(int(total), amount)
    assert rep.attrs['allocation'] == 'global' and (rep.allocation == 'global').all()
    assert (rep.width_after >= 1).all()
    widths = [pm[0].out_features, pm[2].out_features, pm[4].out_features]
    assert widths == rep.width_after.tolist()  # the report gives the per-site counts the model has
    assert torch.isfinite(pm(x)).all()


def test_identical_layers_give_the_uniform_allocation():
    W = torch.randn(20, 30, dtype=torch.float64)
    sels = select_global([W, W.clone(), W.clone(), W.clone()], 4 * 7, lam=1e-9)
    ref = select_projective(W, 7, lam=1e-9).removed.tolist()
    assert [s.removed.tolist() for s in sels] == [ref] * 4
    # at the model level: two sites with identical rows get the same count and the same units as uniform
    lin = nn.Sequential(nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(), nn.Linear(20, 2)).double()
    with torch.no_grad():
        lin[0].weight.copy_(W); lin[4].weight.copy_(W); lin[0].bias.zero_(); lin[4].bias.zero_()
    g, rg = projective_prune(copy.deepcopy(lin), amount=0.35, sites=['0', '4'], rule=ProjectiveRule(redistribute=None, lam=1e-9), allocation='global')
    u, ru = projective_prune(copy.deepcopy(lin), amount=0.35, sites=['0', '4'], rule=ProjectiveRule(redistribute=None, lam=1e-9))
    assert rg.width_after.tolist() == ru.width_after.tolist() == [keep_count(20, 0.35)] * 2
    for a, b in zip(g.state_dict().values(), u.state_dict().values()): assert torch.equal(a, b)


def test_global_prefers_the_redundant_layer_and_is_scale_free():
    gg = torch.Generator().manual_seed(1)
    P, D = (torch.randn(30, 40, generator=gg, dtype=torch.float64) for _ in range(2))
    D[20:] = torch.randn(10, 20, generator=gg, dtype=torch.float64) @ D[:20] / 4 + 1e-3 * torch.randn(10, 40, generator=gg, dtype=torch.float64)
    sels = select_global([P, 5 * P, D], 24)
    assert sum(len(s.removed) for s in sels) == 24
    assert len(sels[0].removed) == len(sels[1].removed)
    assert set(range(20, 30)) <= set(sels[2].removed.tolist())
    for L, s in zip([P, 5 * P, D], sels):  # each group's selection is its own greedy prefix
        assert s.removed.tolist() == select_projective(L, len(s.removed)).removed.tolist()


def test_bad_input_leaves_the_model_untouched():
    m = _mlp(); sd = copy.deepcopy(m.state_dict())
    with pytest.raises(ValueError, match='allocation must be one of'): projective_prune(m, None, 0.3, allocation='layerwise')
    with pytest.raises(ValueError, match='keeps at least one'):
        projective_prune(nn.Sequential(nn.Linear(4, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)).double(), None, 0.9, allocation='global')
    with pytest.raises(ValueError, match='n_remove must be'): select_global([torch.randn(3, 4)], 3)
    with pytest.raises(ValueError, match='one per group'): select_global([torch.randn(3, 4)] * 2, 1, lam=[1e-3])
    for k, v in m.state_dict().items(): assert torch.equal(v, sd[k]), k


def test_global_on_a_chain_writes_the_current_rows():
    "Zero shares make the multiplicative rule pure selection: it must equal redistribute=None (rows re-read after upstream sites lost units)."
    m, x = _mlp(2), torch.randn(32, 8, dtype=torch.float64)
    a, _ = projective_prune(copy.deepcopy(m), [x], 0.4, rule=ProjectiveRule(alpha=0., beta=0., gamma=0.), allocation='global')
    b, _ = projective_prune(copy.deepcopy(m), [x], 0.4, rule=ProjectiveRule(redistribute=None), allocation='global')
    for u, v in zip(a.state_dict().values(), b.state_dict().values()): assert torch.equal(u, v)
    c, _ = projective_prune(copy.deepcopy(m), [x], 0.4, rule=ProjectiveRule(redistribute='multiplicative'), allocation='global')
    assert torch.isfinite(c(x)).all()
