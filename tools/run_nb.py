"""Execute a notebook in place as the test suite does (quick mode, `#| slow`/`#| gpu` cells skipped), keeping the saved
outputs of the skipped cells: how a page's outputs are refreshed after a change without re-running its long studies.

    python tools/run_nb.py nbs/07_pipeline.ipynb [more notebooks]     # then: nbdev_clean
"""
import os, re, sys
from execnb.shell import CaptureShell

SKIP = re.compile(r'^#\|\s*(slow|gpu|eval:\s*false)\s*$', re.M)

def run(path):
    os.environ.setdefault('IN_TEST', '1')  # quick mode, as under nbdev_test
    sh = CaptureShell(mpl_format='png')
    skip = lambda c: c.cell_type != 'code' or bool(SKIP.search(c.source))
    path, cwd = os.path.abspath(path), os.getcwd()
    os.chdir(os.path.dirname(path))  # as nbdev_test runs a notebook: from its own folder
    try: sh.execute(path, path, exc_stop=True, preproc=skip)
    finally: os.chdir(cwd)
    print(f'{path}: executed')

if __name__ == '__main__':
    for p in sys.argv[1:]: run(p)
