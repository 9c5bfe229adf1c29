"The pocket-LM cache as processes see it: a recipe change trains a new directory, two processes train once, retraining swaps atomically."
import os, subprocess, sys, textwrap
import pytest

# A shrunken recipe (tiny corpus, vocabulary, model and step count) so each training takes a second or two.
SHRINK = textwrap.dedent('''
    import rotprune.data as d
    d.POCKET_TOKENIZER.update(vocab_size=300)
    for f in d.POCKET_TRAIN: d.POCKET_TRAIN[f].update(steps=3, batch_size=2, seq_len=16, warmup=1, eval_every=3)
    d.POCKET_ARCHS['llama'].update(hidden_size=32, intermediate_size=48, num_hidden_layers=1)
    d.POCKET_ARCHS['gpt2'].update(n_embd=32, n_layer=1)
    text = ["Return the number of items in a container, or raise an error when it has no length."] * 40
    d.pocket_text = lambda split: text
''')


def _shrunk(monkeypatch, tmp_path):
    import rotprune.data as d
    monkeypatch.setenv('ROTPRUNE_CACHE', str(tmp_path))
    monkeypatch.setitem(d.POCKET_TOKENIZER, 'vocab_size', 300)
    small = dict(steps=3, batch_size=2, seq_len=16, warmup=1, eval_every=3)
    monkeypatch.setattr(d, 'POCKET_TRAIN', {f: {**t, **small} for f, t in d.POCKET_TRAIN.items()})
    monkeypatch.setitem(d.POCKET_ARCHS, 'llama', {**d.POCKET_ARCHS['llama'], 'hidden_size': 32, 'intermediate_size': 48, 'num_hidden_layers': 1})
    monkeypatch.setattr(d, 'pocket_text', lambda split: ["Return the number of items in a container, or raise an error."] * 40)
    return d


def test_recipe_change_gives_new_directory(monkeypatch, tmp_path):
    d = _shrunk(monkeypatch, tmp_path)
    p1 = d.pocket_path('llama')
    assert p1.parent == tmp_path and p1.name.startswith('pocket-llama-')
    monkeypatch.setitem(d.POCKET_TRAIN, 'llama', {**d.POCKET_TRAIN['llama'], 'lr': 1e-3})
    assert d.pocket_path('llama') != p1
    assert d.pocket_path('gpt2') != d.pocket_path('llama')


def test_retrain_swaps_directory_atomically(monkeypatch, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d = _shrunk(monkeypatch, tmp_path)
    m, tok = d.pocket_lm('llama', progress=False)
    path = d.pocket_path('llama')
    assert m.name_or_path == str(path) and m.history['step'] == [1, 2, 3]
    m2, _ = d.pocket_lm('llama', retrain=True, progress=False)
    assert {p.name for p in tmp_path.iterdir()} == {'pocket-llama.lock', path.name}  # no .tmp or .old left over
    plain = AutoModelForCausalLM.from_pretrained(str(path))
    assert type(plain).__name__ == 'LlamaForCausalLM' and plain.config.num_key_value_heads == 2
    assert AutoTokenizer.from_pretrained(str(path))('a b')['input_ids'][0] == tok.bos_token_id


def test_two_processes_train_once(tmp_path):
    code = SHRINK + textwrap.dedent('''
        real = d._train_pocket
        def counted(*a, **k): print('TRAINED', flush=True); return real(*a, **k)
        d._train_pocket = counted
        m, tok = d.pocket_lm('gpt2', progress=False)
        print('SUM', float(sum(p.double().sum() for p in m.parameters())))
    ''')
    env = {**os.environ, 'ROTPRUNE_CACHE': str(tmp_path), 'TOKENIZERS_PARALLELISM': 'false'}
    procs = [subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert sum(o[0].count('TRAINED') for o in outs) == 1  # the second process waited for the first, then loaded
    sums = {line for o in outs for line in o[0].splitlines() if line.startswith('SUM')}
    assert len(sums) == 1  # both got the same weights
