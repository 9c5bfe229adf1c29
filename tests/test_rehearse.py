"""The rehearsal runner (tools/rehearse.py) picks the right cells and fails on a full-mode cell that raises."""
import json, sys, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import rehearse


def _nb(path, sources):
    cells = [{'cell_type': 'code', 'id': f'c{i}', 'metadata': {}, 'execution_count': None, 'outputs': [], 'source': s}
             for i, s in enumerate(sources)]
    path.write_text(json.dumps({'cells': cells, 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}))
    return path


PAGE = ['from rotprune.core import is_full, full_size',            # 0 imports: always
        'SIZES = {"calib": 128}',                                   # 1 used by a full cell: runs
        'quick = sum(range(10**6))',                                # 2 quick mode only: skipped
        '#| export\ndef helper(n): return n + 1',                   # 3 a definition: runs
        'if is_full():\n    n = helper(full_size(SIZES["calib"]))', # 4 full mode
        '#| gpu\nimport torch\nok = not torch.cuda.is_available() or True',  # 5 gpu
        'assert n == 1 + 128 // 1000 or n == 1 + 1']                # 6 uses n only: skipped


def test_plan():
    cells = [{'source': s} for s in PAGE]
    assert rehearse.plan(cells) == [0, 1, 3, 4, 5]
    assert rehearse.plan([{'source': 'x = 1'}]) == []  # no full-mode cell: the page is not run


def test_runs_and_fails(tmp_path):
    good = _nb(tmp_path / 'good.ipynb', PAGE)
    bad = _nb(tmp_path / 'bad.ipynb', PAGE[:4] + ['if is_full():\n    n = helper(full_size(SIZE["calib"]))'])
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'rehearse.py'), str(good), str(bad)], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert '1 failure(s)' in r.stdout and "FAILED bad.ipynb cell c4: NameError" in r.stdout, r.stdout
    assert 'good.ipynb cell c4' in r.stdout and 'FAILED good' not in r.stdout
