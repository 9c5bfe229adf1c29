"""The seed study: how far apart can two machines' runs of the pages be, and does every claim leave room for that?

Seeded training is not bitwise reproducible across machines, so every claim the pages make on a model trained here
(pocket decoders, quick VGGs, digits MLP) is written with `rotprune.core.claim` or `verdict`, which record both compared
numbers when `ROTPRUNE_CLAIMS` names a file. This script runs those pages once per training seed
(`ROTPRUNE_TRAIN_SEED`; each seed trains its own models, under its own cache names) with every claim recorded and none
stopping its page, then tabulates, for each claim, the difference `hi - lo` and the relative gap
`(hi - lo) / max(|lo|, |hi|)` in every run, their smallest values (the margins) and their ranges across seeds (the
spreads). An asserted claim is safe when it held in every run and each margin exceeds its spread.

    python tools/claims_spread.py run --seeds 0 1 2 --work /tmp/spread    # about 15 minutes a seed on 2 cores
    python tools/claims_spread.py table --work /tmp/spread --out nbs/claims_spread.csv
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

NOTEBOOKS = ('00a_data', '02_tsra', '03_pca', '04_procrustes', '06_entropy')  # the pages with claims on trained models
ROOT = Path(__file__).resolve().parents[1]


def run(seeds, work: Path, notebooks=NOTEBOOKS):
    work.mkdir(parents=True, exist_ok=True)
    for s in seeds:
        log = work / f'claims-seed{s}.jsonl'
        log.unlink(missing_ok=True)
        env = {**os.environ, 'ROTPRUNE_TRAIN_SEED': str(s), 'ROTPRUNE_CACHE': os.environ.get('ROTPRUNE_CACHE') or str(work / 'cache'), 'ROTPRUNE_CLAIMS': str(log),
               'ROTPRUNE_CLAIMS_KEEP_GOING': '1', 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'MPLBACKEND': 'Agg',
               'TOKENIZERS_PARALLELISM': 'false', 'HF_HUB_OFFLINE': '1', 'HF_DATASETS_OFFLINE': '1'}
        t = time.time()
        # the data page first: it trains both pocket models at once (one process per core)
        first, rest = notebooks[0], '|'.join(n for n in notebooks[1:])
        for args in (['--path', f'nbs/{first}.ipynb'], ['--path', 'nbs', '--file_re', f'^({rest})\\.ipynb$', '--n_workers', '2']):
            r = subprocess.run(['nbdev_test', *args], cwd=ROOT, env=env, capture_output=True, text=True)
            if r.returncode: print(f'seed {s}: nbdev_test {args} failed (outside a claim):\n{r.stderr[-3000:]}', file=sys.stderr)
        n = sum(1 for _ in open(log)) if log.exists() else 0
        print(f'seed {s}: {n} claims recorded in {time.time() - t:.0f} s', flush=True)


def table(work: Path):
    import pandas as pd
    rows = [json.loads(l) for f in sorted(work.glob('claims-seed*.jsonl')) for l in open(f)]
    if not rows: raise SystemExit(f'no claims recorded under {work}')
    df = pd.DataFrame(rows).assign(diff=lambda d: d.hi - d.lo)
    wide = df.pivot_table(index='claim', columns='seed', values='diff', aggfunc='first')
    rel = df.pivot_table(index='claim', columns='seed', values='gap', aggfunc='first')
    out = pd.DataFrame({'asserted': df.groupby('claim').asserted.first(), 'runs': wide.notna().sum(axis=1)})
    for s in wide.columns: out[f'hi - lo, seed {s}'] = wide[s]
    for s in rel.columns: out[f'relative gap, seed {s}'] = rel[s]
    # the margin must exceed the spread twice over: in the compared quantity's own units (hi - lo), and relative to its
    # size, since a retrain moves the whole scale (a perplexity of 87 in one run, 107 in the next)
    out['margin'], out['spread'] = wide.min(axis=1), wide.max(axis=1) - wide.min(axis=1)
    out['relative margin'], out['relative spread'] = rel.min(axis=1), rel.max(axis=1) - rel.min(axis=1)
    out['held in every run'] = out.margin > 0
    out['margin > spread'] = (out.margin > out.spread) & (out['relative margin'] > out['relative spread'])
    return out.reset_index()


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('what', choices=('run', 'table'))
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--work', type=Path, required=True)
    p.add_argument('--out', type=Path, default=None)
    a = p.parse_args()
    a.work = a.work.resolve()  # the pages run from nbs/: relative paths would point elsewhere
    if a.what == 'run': run(a.seeds, a.work)
    else:
        t = table(a.work)
        if a.out: t.to_csv(a.out, index=False, float_format='%.6g')
        print(t.to_string())
