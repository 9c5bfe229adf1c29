"Fresh-install checks: the package builds into a wheel that carries every module and the console script."
import subprocess, sys, zipfile, configparser, pathlib
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_wheel_contents(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q', '-w', str(tmp_path), str(ROOT)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    whl = next(tmp_path.glob('rotprune-*.whl'))
    names = zipfile.ZipFile(whl).namelist()
    mods = {p.name for p in (ROOT / 'rotprune').glob('*.py')}
    assert mods <= {pathlib.Path(n).name for n in names if n.startswith('rotprune/')}
    ep = next(n for n in names if n.endswith('entry_points.txt'))
    assert 'rotprune = rotprune.cli:main' in zipfile.ZipFile(whl).read(ep).decode()


_IMPORT_EACH = """
import sys, json, importlib, traceback
failed = {}
for m in json.loads(sys.argv[1]):
    for k in [k for k in sys.modules if k == 'rotprune' or k.startswith('rotprune.')]: del sys.modules[k]
    try: importlib.import_module(f'rotprune.{m}')
    except BaseException: failed[m] = traceback.format_exc()[-2000:]
print(json.dumps(failed))
"""


def test_every_notebook_module_importable():
    "Each module imports on its own: no rotprune module is loaded before it (third-party imports are shared, which changes nothing)."
    import json
    mods = [p.stem for p in sorted((ROOT / 'rotprune').glob('*.py')) if not p.name.startswith('_')]
    r = subprocess.run([sys.executable, '-c', _IMPORT_EACH, json.dumps(mods)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    failed = json.loads(r.stdout.strip().splitlines()[-1])
    assert not failed, failed


def test_library_in_sync_with_notebooks():
    "Every exported module corresponds to a notebook that declares it (no stale modules from deleted notebooks)."
    import json, re
    declared = set()
    for nb in (ROOT / 'nbs').glob('*.ipynb'):
        for cell in json.loads(nb.read_text())['cells']:
            m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(cell['source']), re.M)
            if m: declared.add(m.group(1))
    mods = {p.stem for p in (ROOT / 'rotprune').glob('*.py') if not p.name.startswith('_')}
    assert mods == declared, (mods ^ declared)
