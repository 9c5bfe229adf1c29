"Rotary planes as query/key units on Llama-family models: the slim attention, the site, save/load, and the pruning entry points."
import copy
import pytest
import torch
from rotprune.data import tiny_model, tiny_batches
from rotprune.eval import outputs
from rotprune.invariance import find_sites
from rotprune.arch import set_qk_planes, LlamaQKSlimAttention, RopeQKSlimAttention, config_describes_weights, layer_shapes
from rotprune.pipeline import check_roundtrips
from rotprune.qk import qk_prune
from rotprune.projective import ProjectiveRule, projective_prune
from rotprune.select import keep_count

torch.set_num_threads(1)
BS = tiny_batches()
K, D = 2, 16  # the tiny models: 4 query heads, 2 key/value heads of 16 (8 planes)


def _keep(planes, d=D):
    return torch.cat([g * d + torch.cat([torch.as_tensor(p), d // 2 + torch.as_tensor(p)]) for g, p in enumerate(planes)])


def _same(a, b): return all(torch.equal(x, y) for x, y in zip(outputs(a, BS), outputs(b, BS)))


def _sd_equal(m, sd): return all(torch.equal(v, sd[k]) for k, v in m.state_dict().items()) and m.state_dict().keys() == sd.keys()


def _tiny(arch):
    if arch != 'mistral': return tiny_model(arch)
    import transformers as tf
    torch.manual_seed(0)
    return tf.MistralForCausalLM(tf.MistralConfig(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                                                  num_key_value_heads=2, vocab_size=128, attn_implementation='eager')).double().eval()


@pytest.mark.parametrize('arch', ['llama', 'qwen2', 'mistral'])
@pytest.mark.parametrize('impl', ['eager', 'sdpa'])
def test_nothing_removed_is_bitwise_the_dense_attention(arch, impl):
    m = _tiny(arch); m.set_attn_implementation(impl); s = copy.deepcopy(m)
    for l in s.model.layers: set_qk_planes(l.self_attn, torch.arange(D // 2).expand(K, D // 2))
    assert all(isinstance(l.self_attn, RopeQKSlimAttention) for l in s.model.layers)
    assert _same(m, s)


def test_pruned_head_probabilities_match_a_hand_computation():
    m = tiny_model('llama').eval(); p = copy.deepcopy(m)
    kept = torch.tensor([[0, 3, 5], [1, 2, 7]])
    find_sites(p)['layer1.qk'].prune(_keep(kept))
    a0 = m.model.layers[1].self_attn
    T, E = 7, m.config.hidden_size
    x = torch.randn(1, T, E, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    pos = torch.arange(T)[None]
    pe = p.model.rotary_emb(x, pos)
    mask = torch.full((T, T), float('-inf'), dtype=torch.float64).triu(1)[None, None]
    _, P = p.model.layers[1].self_attn(x, position_embeddings=pe, attention_mask=mask)
    inv = 1.0 / (m.config.rope_parameters['rope_theta'] ** (torch.arange(0, D, 2, dtype=torch.float64) / D))  # independent of the model
    q = a0.q_proj(x).view(T, 4, D); k = a0.k_proj(x).view(T, K, D)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]  # (T, 8)
    def rot(v, j):  # plane j of v (T, D) at every position: [x cos - y sin, x sin + y cos]
        c, s = ang[:, j].cos(), ang[:, j].sin()
        return torch.stack([v[:, j] * c - v[:, j + D // 2] * s, v[:, j] * s + v[:, j + D // 2] * c], -1)
    for h in range(4):
        g = h // 2  # repeat_kv: query head h reads key/value head h // n_rep
        sc = sum(rot(q[:, h], j) @ rot(k[:, g], j).T for j in kept[g].tolist()) / D ** .5
        ref = (sc + mask[0, 0]).softmax(-1, dtype=torch.float32).to(torch.float64)  # eager Llama takes the softmax in float32
        torch.testing.assert_close(P[0, h], ref, atol=1e-12, rtol=0)


@pytest.mark.parametrize('impl', ['eager', 'sdpa'])
def test_generation_with_cache_equals_without(impl):
    m = tiny_model('llama'); m.set_attn_implementation(impl)
    for i, kept in enumerate(([[0, 3, 5], [1, 2, 7]], [[2, 4, 6], [0, 1, 3]])): find_sites(m)[f'layer{i}.qk'].prune(_keep(kept))
    ids = BS[0]['input_ids'][:1, :5]
    kw = dict(max_new_tokens=8, do_sample=False, output_scores=True, return_dict_in_generate=True, pad_token_id=0)
    a, b = m.generate(ids, use_cache=True, **kw), m.generate(ids, use_cache=False, **kw)
    assert torch.equal(a.sequences, b.sequences)
    tol = {'eager': 1e-6, 'sdpa': 1e-10}[impl]  # transformers' eager attention takes its softmax in float32, dense or not
    assert max((x - y).abs().max().item() for x, y in zip(a.scores, b.scores)) < tol


def test_save_and_load_in_a_fresh_process_is_bitwise():
    m = tiny_model('llama'); find_sites(m)['layer0.qk'].prune(_keep([[0, 3, 5], [1, 2, 7]]))
    h = tiny_model('llama'); find_sites(h)['layer0.heads'].prune(torch.arange(D))  # whole heads first, then planes
    find_sites(h)['layer0.qk'].prune(torch.tensor([1, 2, 9, 10]))
    q = tiny_model('qwen2'); q.set_attn_implementation('sdpa'); qk_prune(q, BS, 0.5, 'norm')
    pr = projective_prune(tiny_model('llama'), BS, 0.3, sites='qk')[0]
    res = check_roundtrips({'planes': (m, BS), 'heads then planes': (h, BS), 'qwen2 sdpa': (q, BS), 'projective': (pr, BS)})
    assert all(r['bitwise'] and r['loader'] == 'load_pruned' for r in res.values()), res
    assert config_describes_weights(m) and layer_shapes(m)[0]['qk_head_dim'] == 6


def test_pruning_entry_points():
    ref = tiny_model('llama')
    for f in (lambda m, a: qk_prune(m, BS, a, 'norm'), lambda m, a: qk_prune(m, BS, a, 'random'),
              lambda m, a: projective_prune(m, BS, a, sites='qk'), lambda m, a: projective_prune(m, BS, a, sites='qk', rule=ProjectiveRule(redistribute=None, update='lazy'))):
        m = copy.deepcopy(ref); f(m, 0.)
        assert _same(m, ref) and type(m.model.layers[0].self_attn).__name__ == 'LlamaAttention'
        m, rep = f(copy.deepcopy(ref), 0.3)
        assert rep.width_after.tolist() == [K * 2 * keep_count(D // 2, 0.3)] * 2 and config_describes_weights(m)
        assert all(isinstance(l.self_attn, LlamaQKSlimAttention) and l.self_attn.qk_planes.shape == (K, keep_count(D // 2, 0.3)) for l in m.model.layers)
        assert torch.isfinite(outputs(m, BS)[0]).all()


def test_selection_only_keeps_the_kept_planes_weights():
    m0 = tiny_model('llama'); m, _ = projective_prune(copy.deepcopy(m0), BS, 0.5, sites='layer0.qk', rule=ProjectiveRule(redistribute=None))
    a, a0 = m.model.layers[0].self_attn, m0.model.layers[0].self_attn
    P = a.qk_planes.long()
    assert torch.equal(a.k_proj.weight, a0.k_proj.weight[_keep(P)])


def test_bad_input_leaves_the_model_unchanged():
    m = tiny_model('llama'); sd = copy.deepcopy(m.state_dict()); S = find_sites(m)
    bad = [(lambda: S['layer0.qk'].prune(torch.cat([torch.tensor([0, 1, 8]), 16 + torch.tensor([0, 1, 8, 9])])), 'whole rotary planes'),  # a coordinate without its partner
           (lambda: S['layer0.qk'].prune(_keep([[0, 1], [2]])), 'whole rotary planes'),  # unequal counts
           (lambda: set_qk_planes(m.model.layers[0].self_attn, torch.arange(3).expand(K, 3)), 'k_proj writes'),  # weights not sliced
           (lambda: set_qk_planes(m.model.layers[0].self_attn, torch.tensor([[0, 0], [1, 2]])), 'ascending'),
           (lambda: set_qk_planes(m.model.layers[0].mlp, torch.arange(2)[None]), 'rotary-plane pruning supports'),
           (lambda: qk_prune(m, BS, 0.3, 'svd'), 'not valid with RoPE'), (lambda: qk_prune(m, BS, 0.3, 'svd-data'), 'not valid with RoPE'),
           (lambda: projective_prune(m, BS, 0.3, sites='qk', rule=ProjectiveRule(redistribute='additive')), 'not exact between rotary planes'),
           (lambda: projective_prune(m, BS, 0.3, sites='qk', rule=ProjectiveRule(data_aware=True)), 'data-aware'),
           (lambda: projective_prune(m, BS, 0.3, sites='qk', allocation='global'), "allocation='global' covers"),
           (lambda: qk_prune(m, BS, 1.0, 'norm'), 'amount must be')]
    for f, msg in bad:
        with pytest.raises((ValueError, NotImplementedError), match=msg): f()
    assert _sd_equal(m, sd) and all(type(l.self_attn).__name__ == 'LlamaAttention' for l in m.model.layers)
