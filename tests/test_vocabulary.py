"The fraction a call removes is `amount` in every public function; renamed arguments still work for one release, with a warning."
import importlib, inspect, pkgutil, warnings
import pytest
import rotprune

OLD_NAMES = {'sparsity', 'ratio', 'ratios', 'fraction'}  # the names `amount` replaced
NOT_YET = {}  # (module, function): an old name not renamed yet

def public_functions():
    for m in pkgutil.iter_modules(rotprune.__path__):
        if m.name.startswith('_'): continue
        mod = importlib.import_module(f'rotprune.{m.name}')
        for name, f in vars(mod).items():
            if not name.startswith('_') and inspect.isfunction(f) and f.__module__ == mod.__name__: yield m.name, name, f

def test_no_public_function_takes_an_old_name():
    bad = [(m, n, p) for m, n, f in public_functions() for p in inspect.signature(f).parameters
           if p in OLD_NAMES and NOT_YET.get((m, n)) != p]
    assert not bad, f"parameters still named the old way (use amount): {bad}"

def renamed():
    return [(m, n, f) for m, n, f in public_functions() if getattr(f, 'renamed_args', None)]

def test_renamed_functions_exist():
    names = {n for _, n, _ in renamed()}
    assert {'sparsify', 'wanda', 'sparsegpt', 'magnitude', 'prune_mask', 'n_pruned', 'select_dims', 'dim_fraction', 'prune_sweep'} <= names

@pytest.mark.parametrize('m,n,f', renamed(), ids=lambda x: x if isinstance(x, str) else '')
def test_old_keyword_maps_to_the_new_parameter(m, n, f):
    sig = inspect.signature(f)
    for old, new in f.renamed_args.items():
        assert new in sig.parameters and old not in sig.parameters, (n, old, new)

def test_old_keyword_warns_and_gives_the_same_result():
    import torch
    from rotprune.sparsify import magnitude
    from rotprune.pca import select_dims
    W = torch.randn(6, 8, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        assert torch.equal(magnitude(W, sparsity=0.5), magnitude(W, amount=0.5))
        assert torch.equal(select_dims(torch.arange(8.), fraction=0.25), select_dims(torch.arange(8.), amount=0.25))
    assert [x.category for x in w] == [DeprecationWarning] * 2
    with pytest.raises(TypeError, match="pass only 'amount'"): magnitude(W, sparsity=0.5, amount=0.5)

MOVED = {('projective', 'qk'): ('QK_METHODS', 'qk_heads', 'write_qk', 'qk_truncate', 'qk_moments', 'qk_prune', 'rope_planes')}

@pytest.mark.parametrize('old,new', list(MOVED), ids=lambda x: x)
def test_moved_names_still_import_with_a_warning(old, new):
    "A name that moved with its chapter stays importable from its old module for one release, as the same object."
    o, n = importlib.import_module(f'rotprune.{old}'), importlib.import_module(f'rotprune.{new}')
    for name in MOVED[(old, new)]:
        assert name not in vars(o), f"{name} is still defined in rotprune.{old}"
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            assert getattr(o, name) is getattr(n, name)
        assert [x.category for x in w] == [DeprecationWarning] and f'rotprune.{new}.{name}' in str(w[0].message)
    with pytest.raises(AttributeError): getattr(o, 'no_such_name')

def test_old_compensation_names_warn_and_give_the_same_model():
    "One compensation vocabulary: `rcpu_prune` takes `prune`'s names ('none', 'bias'); None and 'flap_bias' still work for one release."
    import torch
    from rotprune.data import tiny_model, tiny_batches
    from rotprune.procrustes import rcpu_prune, COMPENSATIONS
    from rotprune.pipeline import COMPENSATIONS as RECIPE_COMPENSATIONS
    assert set(COMPENSATIONS) <= set(RECIPE_COMPENSATIONS)
    bs = tiny_batches()
    for old, new in ((None, 'none'), ('flap_bias', 'bias')):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            a, ra = rcpu_prune(tiny_model('llama'), bs, 0.5, compensate=old)
        assert [x.category for x in w] == [DeprecationWarning] and repr(new) in str(w[0].message)
        b, rb = rcpu_prune(tiny_model('llama'), bs, 0.5, compensate=new)
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
        assert (ra.compensation == new).all() and (rb.compensation == new).all()
    with pytest.raises(ValueError, match='compensate must be one of'): rcpu_prune(tiny_model('llama'), bs, 0.5, compensate='Bias')

def test_recipe_names_say_structured_or_not():
    "Structured presets that share a score with an unstructured one say so ('-sp'); the old name 'magnitude' still works for one release."
    from rotprune.pipeline import RECIPES, RENAMED_RECIPES, get_recipe
    for score in ('magnitude', 'wanda'):
        structured = [n for n, r in RECIPES.items() if r.score == f'{score}' + ('-sp' if score == 'wanda' else '') and r.granularity == 'structured']
        assert structured and all(n.endswith('-sp') for n in structured), structured
    assert not set(RENAMED_RECIPES) & set(RECIPES)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        assert get_recipe('magnitude') is RECIPES['magnitude-sp']
    assert [x.category for x in w] == [DeprecationWarning] and "'magnitude-sp'" in str(w[0].message)

def test_site_keep_is_deprecated_and_unchanged():
    "`site_keep` (dead inside rotprune since `unit_importance`) warns and still returns what `keep_units` gives on summed column scores."
    import torch
    from rotprune.data import tiny_model
    from rotprune.invariance import find_sites
    from rotprune.core import weight_matrix
    from rotprune.procrustes import site_keep, keep_units, site_unit_scores, site_consumer
    site = find_sites(tiny_model('llama'))['layer0.heads']
    col = weight_matrix(site_consumer(site)).double().norm(dim=0)
    with pytest.warns(DeprecationWarning, match='keep_units'): got = site_keep(site, col, 0.5)
    want = keep_units(site, site_unit_scores(site, col), 0.5)
    assert all(torch.equal(a, b) for a, b in zip(got, want))
