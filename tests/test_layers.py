"""The layering of rotprune, enforced: every module imports only from its own layer or the layers below it, the
import graph has no cycle, no module imports another module's private names, and only arch and layerwise touch
transformers' and accelerate's internals. Imports inside functions count."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / 'rotprune'

# (layer, modules, what it is responsible for), from the bottom up
LAYERS = [
    ('primitives', ('core', 'data', 'eval', 'bench'), 'tensors and modules, data and models, metrics, training loops, tables and figures'),
    ('sites', ('sites',), 'the vocabulary of hidden spaces: Group, Port, Site, Sites'),
    ('arch', ('arch',), "the adapters: the only place that knows transformers' module names and accelerate's hooks"),
    ('layerwise', ('layerwise',), 'one block at a time, and models offloaded by accelerate'),
    ('select', ('select',), 'choosing sites, keep counts, the importance protocol, reports, the guard'),
    ('concepts', ('invariance', 'tsra', 'pca', 'procrustes', 'qk', 'projective', 'sparsify', 'entropy'), 'the maths of each chapter'),
    ('pipeline', ('pipeline',), 'recipes, prune(), save and load'),
    ('experiments', ('experiments',), "the chapters' sweeps and studies"),
    ('cli', ('cli',), 'the command line'),
]
LAYER_OF = {m: i for i, (_, mods, _) in enumerate(LAYERS) for m in mods}


def modules() -> list:
    return sorted(p.stem for p in PKG.glob('*.py') if not p.stem.startswith('_'))


def imports(source: str, me: str) -> list:
    "(module imported, names imported from it, line) for every import of a rotprune module in `source`."
    out = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.ImportFrom):
            mod = ('rotprune.' if n.level else '') + (n.module or '') if n.level <= 1 else None
            if n.level == 1 and not n.module: mod = 'rotprune'
            if mod is None: raise AssertionError(f"{me}: relative import beyond the package at line {n.lineno}")
            parts = mod.split('.')
            if parts[0] != 'rotprune': continue
            if len(parts) == 1:  # from rotprune import x
                for a in n.names: out.append((a.name, (), n.lineno))
            else: out.append((parts[1], tuple(a.name for a in n.names), n.lineno))
        elif isinstance(n, ast.Import):
            for a in n.names:
                parts = a.name.split('.')
                if parts[0] == 'rotprune' and len(parts) > 1: out.append((parts[1], (), n.lineno))
    return out


def graph(sources: dict) -> dict:
    "{module: [(imported module, names, line)]} for `sources` ({module: source text})."
    return {m: [(t, names, line) for t, names, line in imports(s, m) if t != m] for m, s in sources.items()}


def violations(sources: dict) -> list:
    "Every breach of the layering in `sources`, as a sentence."
    g, bad = graph(sources), []
    for m in sources:
        if m not in LAYER_OF: bad.append(f"{m} is in no layer: add it to LAYERS in tests/test_layers.py"); continue
        for t, names, line in g[m]:
            if t not in LAYER_OF: bad.append(f"{m}:{line} imports {t}, which is in no layer"); continue
            if LAYER_OF[t] > LAYER_OF[m]:
                bad.append(f"{m}:{line} imports {t}: {LAYERS[LAYER_OF[m]][0]} may not import from {LAYERS[LAYER_OF[t]][0]}, a layer above it")
            for a in names:
                if a.startswith('_') and not a.startswith('__'): bad.append(f"{m}:{line} imports the private name {a} of {t}")
    # cycles, within a layer too (an edge to a higher layer is reported above)
    state = {}
    def visit(m, path):
        state[m] = 1
        for t, _, _ in g.get(m, []):
            if t not in sources: continue
            if state.get(t) == 1: bad.append('import cycle: ' + ' -> '.join(path[path.index(t):] + [t]))
            elif t not in state: visit(t, path + [t])
        state[m] = 2
    for m in sorted(sources):
        if m not in state: visit(m, [m])
    return bad


# transformers' and accelerate's internals: only arch and layerwise may touch them
INTERNALS_OK = ('arch', 'layerwise')
PUBLIC_TRANSFORMERS = ('transformers', 'transformers.pytorch_utils', 'transformers.utils', 'transformers.utils.logging')
PRIVATE_FIELDS = ('_hf_hook', '_attn_implementation', '_tied_weights_keys', 'hf_quantizer', '_hf_peft_config_loaded')


def internals(source: str, me: str) -> list:
    "Every use of transformers' or accelerate's internals in `source`: imports of their private modules, their private fields."
    bad = []
    for n in ast.walk(ast.parse(source)):
        mods = [n.module or ''] if isinstance(n, ast.ImportFrom) and not n.level else [a.name for a in n.names] if isinstance(n, ast.Import) else []
        for mod in mods:
            if mod.split('.')[0] == 'accelerate' or (mod.split('.')[0] == 'transformers' and mod not in PUBLIC_TRANSFORMERS):
                bad.append(f"{me}:{n.lineno} imports {mod}: only {' and '.join(INTERNALS_OK)} may")
        if isinstance(n, ast.Attribute) and n.attr in PRIVATE_FIELDS: bad.append(f"{me}:{n.lineno} touches .{n.attr}")
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ('getattr', 'hasattr', 'setattr', 'delattr')
                and len(n.args) > 1 and isinstance(n.args[1], ast.Constant) and n.args[1].value in PRIVATE_FIELDS):
            bad.append(f"{me}:{n.lineno} touches {n.args[1].value!r}")
    return bad


def test_internals():
    bad = [v for m in modules() if m not in INTERNALS_OK for v in internals((PKG / f'{m}.py').read_text(), m)]
    assert not bad, '\n'.join(bad)


@pytest.mark.parametrize('source,expected', [
    ('from transformers.initialization import no_init_weights', 'imports transformers.initialization'),
    ('def f(m):\n    import accelerate.hooks', 'imports accelerate.hooks'),
    ("h = getattr(m, '_hf_hook', None)", "touches '_hf_hook'"),
    ('m.config._attn_implementation = "eager"', 'touches ._attn_implementation'),
])
def test_internals_catches(source, expected):
    assert any(expected in v for v in internals(source, 'x')), internals(source, 'x')


def test_layers():
    sources = {m: (PKG / f'{m}.py').read_text() for m in modules()}
    assert set(LAYER_OF) == set(sources), f"LAYERS and the package differ: {set(LAYER_OF) ^ set(sources)}"
    bad = violations(sources)
    assert not bad, '\n'.join(bad)


@pytest.mark.parametrize('sources,expected', [
    ({'core': 'from .select import keep_count', 'select': ''}, 'primitives may not import from select'),
    ({'arch': 'def f():\n    from rotprune.layerwise import check_loaded', 'layerwise': ''}, 'arch may not import from layerwise'),
    ({'pca': 'from .procrustes import _consumer', 'procrustes': ''}, 'private name _consumer of procrustes'),
    ({'pca': 'from .tsra import x', 'tsra': 'import rotprune.pca'}, 'import cycle'),
    ({'pca': 'from rotprune import pipeline', 'pipeline': ''}, 'concepts may not import from pipeline'),
    ({'newmod': ''}, 'newmod is in no layer'),
])
def test_layers_catches(sources, expected):
    "The check finds each kind of breach, inside functions too."
    assert any(expected in v for v in violations(sources)), violations(sources)


def test_layer_table():
    "Each module in exactly one layer."
    mods = [m for _, ms, _ in LAYERS for m in ms]
    assert len(mods) == len(set(mods))
