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


def test_every_notebook_module_importable():
    cfg = configparser.ConfigParser(); cfg.read(ROOT / 'settings.ini')
    mods = [p.stem for p in sorted((ROOT / 'rotprune').glob('*.py')) if not p.name.startswith('_')]
    procs = {}
    for i in range(0, len(mods), 2):  # each module alone in a fresh interpreter, two at a time
        batch = {m: subprocess.Popen([sys.executable, '-c', f'import rotprune.{m}'], stderr=subprocess.PIPE, text=True) for m in mods[i:i + 2]}
        for m, p in batch.items(): procs[m] = (p.communicate(timeout=300)[1], p.returncode)
    for m, (err, rc) in procs.items(): assert rc == 0, (m, err[-2000:])


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
