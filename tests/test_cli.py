"Round trips through the installed `rotprune` command: what a user types, in a subprocess."
import subprocess, sys, shutil
import pytest


def run(*args, timeout=600):
    exe = shutil.which('rotprune')
    cmd = [exe, *args] if exe else [sys.executable, '-c', 'import sys; from rotprune.cli import main; sys.exit(main())', *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_console_script_installed():
    assert shutil.which('rotprune'), "the `rotprune` console script is not on PATH: is the package installed?"


def test_help():
    r = run('--help')
    assert r.returncode == 0 and 'demo' in r.stdout and 'sites' in r.stdout


def test_unknown_command_fails_cleanly():
    r = run('frobnicate')
    assert r.returncode == 2 and 'invalid choice' in r.stderr


def test_sites_tiny_llama_fused():
    r = run('sites', 'tiny-llama', '--fuse')
    assert r.returncode == 0, r.stderr
    assert 'residual' in r.stdout and 'SO(2)^8' in r.stdout and 'whole blocks of 16' in r.stdout


def test_sites_minilm():
    r = run('sites', 'minilm')
    assert r.returncode == 0, r.stderr
    assert r.stdout.count('.heads') == 6 and 'S(1536)' in r.stdout and 'post-norm' in r.stdout


def test_sites_bad_model():
    r = run('sites', 'tiny-opt')
    assert r.returncode != 0 and 'unknown tiny model' in r.stderr


def test_demo_concept1():
    r = run('demo', '--only', 'rotprune.invariance')
    assert r.returncode == 0, r.stderr
    assert '1 invariance' in r.stdout and 'embedding cosine 1.0000000' in r.stdout


def test_prune_eval_pocket_llama(tmp_path):
    out = tmp_path / 'pruned'
    r = run('prune', 'pocket-llama', '--recipe', 'rcpu', '--amount', '0.3', '--n-calib', '32', '--out', str(out), '--quiet')
    assert r.returncode == 0, r.stderr
    assert 'removed' in r.stdout and (out / 'config.json').exists() and (out / 'rotprune.json').exists()
    r = run('eval', str(out), '--n-eval', '8')
    assert r.returncode == 0, r.stderr
    assert 'perplexity (pydoc eval)' in r.stdout and 'speed-up at batch 32' in r.stdout


def test_prune_refuses_cleanly(tmp_path):
    for args, msg in [(('prune', 'tiny-opt', '--out', str(tmp_path / 'a')), 'unknown tiny model'),
                      (('prune', 'tiny-llama', '--recipe', 'nope', '--out', str(tmp_path / 'b')), 'unknown recipe'),
                      (('prune', 'tiny-llama', '--amount', '1.5', '--out', str(tmp_path / 'c')), 'amount must be'),
                      (('eval', str(tmp_path / 'missing')), 'error')]:
        r = run(*args)
        assert r.returncode == 1 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
        assert r.stderr.strip().count('\n') == 0, r.stderr


def test_recipes():
    r = run('recipes')
    assert r.returncode == 0 and 'denoise-sparsegpt' in r.stdout and 'slicegpt' in r.stdout


def test_quiet_prints_no_progress_bar(tmp_path):
    "`--quiet` hides every bar, transformers' weight loading included (MiniLM shows one when loaded without it)."
    r = run('prune', 'minilm', '--recipe', 'magnitude-sp', '--amount', '0.1', '--n-calib', '8', '--quiet', '--out', str(tmp_path / 'q'))
    assert r.returncode == 0, r.stderr
    assert '%|' not in r.stderr and '%|' not in r.stdout, r.stderr[-500:]


def test_out_checked_before_work(tmp_path):
    "A non-empty --out is refused at once (before loading or pruning) and left as it was."
    (tmp_path / 'mine').mkdir(); (tmp_path / 'mine' / 'notes.txt').write_text('keep me')
    r = run('prune', 'minilm', '--recipe', 'lstsq', '--out', str(tmp_path / 'mine'))
    assert r.returncode == 1 and 'is not empty' in r.stderr and r.stderr.count('\n') == 1, r.stderr
    assert sorted(p.name for p in (tmp_path / 'mine').iterdir()) == ['notes.txt']


def test_eval_zero_shot(tmp_path):
    "`rotprune eval --tasks`: zero-shot accuracy through lm-eval-harness, of the pruned model and of its source."
    out = tmp_path / 'p'
    r = run('prune', 'pocket-llama', '--recipe', 'lstsq', '--amount', '0.2', '--n-calib', '32', '--out', str(out), '--quiet')
    assert r.returncode == 0, r.stderr
    r = run('eval', str(out), '--n-eval', '8', '--tasks', 'rotprune_pydoc_cloze', '--limit', '8')
    assert r.returncode == 0, r.stderr
    assert 'rotprune_pydoc_cloze acc_norm' in r.stdout and 'dense rotprune_pydoc_cloze acc_norm' in r.stdout, r.stdout
