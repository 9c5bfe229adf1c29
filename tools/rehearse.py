"""The rehearsal of full mode on CPU: every full-mode and `#| gpu` cell of every page, executed end to end.

Full mode (the Colab experiments) needs a GPU and the hub. Here neither exists, so this script runs full mode against
stand-ins: `ROTPRUNE_MODE=full` and `ROTPRUNE_REHEARSAL=<scale>` make the hub loaders of `rotprune.data` serve small
models and datasets of the same families and layouts (`STANDINS`, `standin_dataset`), and every full-mode size written
`full_size(n)` is divided by the scale. No cell is edited for the rehearsal.

For each page it runs, in the page's order and namespace:
- the cells the docs processor runs (those with an import) and the `#| export` cells (the page's definitions);
- every cell that asks `is_full()` and every `#| gpu` cell (a `#| gpu` cell gates itself on the hardware it needs);
- and the earlier cells that define a name those cells use (found by reading the code), nothing else.
A cell that raises fails the rehearsal; every page is still tried, and all failures are listed at the end.

    python tools/rehearse.py [--scale 1000] [nbs/04_procrustes.ipynb ...]     # default: every page
"""
import argparse, ast, builtins, os, re, sys, tempfile, time, traceback
from pathlib import Path

FULL = re.compile(r'\bis_full\(\)')
FLAG = lambda name: re.compile(rf'^#\|\s*{name}\b', re.M)
GPU, EXPORT, SKIP = FLAG('gpu'), FLAG(r'export'), re.compile(r'^#\|\s*eval:\s*false', re.M)

def _code(src:str) -> str:
    "The cell as Python: IPython magics and shell lines dropped."
    return '\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in src.splitlines())

def names(src:str) -> tuple[set, set, bool]:
    "(names the cell defines at top level, names it reads, whether it imports)."
    tree = ast.parse(_code(src))
    defined, used, imports = set(), set(), False
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports = True
            defined |= {(a.asname or a.name).split('.')[0] for a in node.names if a.name != '*'}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): defined.add(node.name)
        elif isinstance(node, ast.Name): (defined if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, ast.arg): defined.add(node.arg)
    return defined, used - set(dir(builtins)), imports

def plan(cells:list) -> list[int]:
    "Indices of the code cells the rehearsal runs (see the module docstring)."
    info = [names(c['source']) for c in cells]
    context = {i for i, c in enumerate(cells) if info[i][2] or EXPORT.search(c['source'])}
    targets = [i for i, c in enumerate(cells) if i not in context and (FULL.search(c['source']) or GPU.search(c['source']))]
    chosen, todo = set(context) | set(targets), list(targets)
    while todo:
        i = todo.pop()
        have = set().union(*(info[j][0] for j in chosen if j < i))
        for name in info[i][1] - have - info[i][0]:
            src = [j for j in range(i) if name in info[j][0]]
            if src and src[-1] not in chosen: chosen.add(src[-1]); todo.append(src[-1])
    return sorted(chosen) if targets else []

def rehearse(path:Path) -> list[str]:
    "Run the full-mode cells of one page; return its failures."
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    cells = [c for c in read_nb(path).cells if c.cell_type == 'code' and not SKIP.search(c.source)]
    idx = plan(cells)
    if not idx: return []
    sh, failures, cwd = CaptureShell(mpl_format='png'), [], os.getcwd()
    os.chdir(path.parent)  # as nbdev_test runs a page
    try:
        for i in idx:
            c, t = cells[i], time.time()
            sh.run(c.source)
            full = bool(FULL.search(c.source) or GPU.search(c.source)) and not EXPORT.search(c.source)
            if full: print(f"  {path.name} cell {c.get('id', i)}: {time.time() - t:.1f} s", flush=True)
            if sh.exc is not None:
                tb = ''.join(traceback.format_exception(sh.exc))
                failures.append(f"{path.name}, cell {c.get('id', i)}:\n{c.source}\n{tb}")
                print(f"  FAILED {path.name} cell {c.get('id', i)}: {type(sh.exc).__name__}: {sh.exc}")
                break  # later cells of the page depend on this one
    finally: os.chdir(cwd)
    return failures

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('pages', nargs='*', type=Path, help='notebooks (default: every page in nbs/)')
    ap.add_argument('--scale', type=int, default=1000, help='every full-mode size is divided by this')
    a = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    pages = a.pages or sorted((root / 'nbs').glob('*.ipynb'))
    os.environ.update(ROTPRUNE_MODE='full', ROTPRUNE_REHEARSAL=str(a.scale), IN_TEST='1')
    # always a fresh cache: the rehearsal trains stand-ins under the names of real models (e.g. the CIFAR VGGs), which must
    # never replace a user's
    os.environ['ROTPRUNE_CACHE'] = tempfile.mkdtemp(prefix='rotprune-rehearsal-')
    start, failures = time.time(), []
    for p in pages:
        t = time.time(); failures += rehearse(p.resolve())
        print(f"{p.name}: {time.time() - t:.1f} s", flush=True)
    print(f"rehearsal of full mode (scale 1/{a.scale}): {time.time() - start:.0f} s, {len(failures)} failure(s)")
    for f in failures: print('\n' + f)
    sys.exit(1 if failures else 0)

if __name__ == '__main__': main()
