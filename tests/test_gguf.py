"GGUF checkpoints as input: SmolLM2-135M from the package index, a GGUF a user loaded with transformers, and the CLI."
import json, shutil, subprocess, sys
from pathlib import Path

import pytest
import torch
import transformers

from rotprune.data import smollm2_gguf, gguf_dir
from rotprune.arch import is_gguf_loaded
from rotprune.pipeline import save_pruned, load_pruned, prune, calibration


def run(*args, timeout=900):
    exe = shutil.which('rotprune')
    cmd = [exe, *args] if exe else [sys.executable, '-c', 'import sys; from rotprune.cli import main; sys.exit(main())', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_save_pruned_on_a_model_loaded_from_gguf(tmp_path):
    "transformers' own GGUF loading keeps a quantizer that refuses to save; save_pruned saves it, and leaves it attached."
    f = smollm2_gguf()
    m = transformers.AutoModelForCausalLM.from_pretrained(str(f.parent), gguf_file=f.name, dtype=torch.float32).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(f.parent), gguf_file=f.name)
    assert is_gguf_loaded(m)
    with pytest.raises(ValueError, match='not serializable'): m.save_pretrained(tmp_path / 'plain')
    cal = calibration('pydoc', tok, n=4, max_length=32)
    m, _ = prune(m, cal, 'wanda-sp', 0.1, sites='mlp')
    out = save_pruned(m, tmp_path / 'pruned', tokenizer=tok)
    assert is_gguf_loaded(m) and m.hf_quantizer is not None  # the caller's model is as it was
    assert 'quantization_config' not in json.loads((out / 'config.json').read_text())
    back = load_pruned(out)
    ids = cal[0]['input_ids'][:2]
    with torch.no_grad(): assert torch.equal(m(ids).logits, back(ids).logits)


def test_cli_sites_and_prune_a_gguf_file(tmp_path):
    "`rotprune sites` and `rotprune prune` take 'smollm2' and a .gguf path; the result is a plain Hugging Face directory."
    r = run('sites', 'smollm2')
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('.mlp ') == 30 and 'layer29.heads' in r.stdout
    f = smollm2_gguf()
    r = run('prune', str(f), '--out', str(tmp_path / 'out'), '--recipe', 'wanda-sp', '--amount', '0.1', '--sites', 'mlp', '--n-calib', '4', '--quiet')
    assert r.returncode == 0, r.stderr
    plain = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / 'out')
    assert plain.config.intermediate_size == 1382 and plain.config.num_hidden_layers == 30
    info = json.loads((tmp_path / 'out' / 'rotprune.json').read_text())
    assert info['source'] == str(f.absolute())


def test_gguf_of_an_unsupported_family_is_refused(tmp_path):
    "The architecture is read from the file's header, before any conversion."
    r = run('sites', str(smollm2_gguf().parent / 'missing.gguf'))
    assert r.returncode == 1 and 'not a .gguf file' in r.stderr
    with pytest.raises(ValueError, match="GGUF architecture 'llama' is not supported"): gguf_dir(smollm2_gguf(), families=('qwen2',))
