#!/usr/bin/python3
"""The quality table from eval/work/results.jsonl (the newest row of each name), as Markdown.

    /usr/bin/python3 eval/report.py [--out eval/results.md]

Rows: teacher, random-init, then per sparsity: magnitude (all units: conv channels, q/k and v dims, FFN units),
magnitude-enc (encoder only: q/k and v dims, FFN units; the conv stack kept whole), each alone and + distillation,
and slimwav. "vs teacher" is probe accuracy / teacher probe accuracy.

Uncertainty: the 1200 held-out clips come from only 20 voices, and clips of one voice are not independent, so the
95% intervals are a cluster bootstrap over voices (2000 resamples of the 20 voices, all their clips each time),
paired across models (the same resample for every model). The issue's bar at 72%: slimwav ≥ 95% of the teacher,
and clearly above every magnitude + distillation baseline of the same size.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, 'work', 'data')
VARIANTS = ['magnitude', 'magnitude+distill', 'magnitude-enc', 'magnitude-enc+distill', 'slimwav']
N_BOOT = 2000


def order(names, sparsities):
    out = ['teacher', 'random-init']
    for s in sparsities:
        out += [f'{v}-{s}' for v in VARIANTS]
    return out + sorted(set(names) - set(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--results', default=os.path.join(HERE, 'work', 'results.jsonl'))
    ap.add_argument('--out', default=os.path.join(HERE, 'results.md'))
    args = ap.parse_args()
    rows = {}
    for line in open(args.results):
        r = json.loads(line)
        rows[r['name']] = r
    clips = json.load(open(os.path.join(DATA, 'test.json')))['clips']
    y = np.array([c['label'] for c in clips])
    voices = sorted({c['voice'] for c in clips})
    vid = np.array([voices.index(c['voice']) for c in clips])
    members = [np.nonzero(vid == v)[0] for v in range(len(voices))]
    rng = np.random.default_rng(0)
    boots = [np.concatenate([members[v] for v in rng.integers(0, len(voices), len(voices))]) for _ in range(N_BOOT)]

    correct = {}
    for n, r in rows.items():
        p = os.path.join(ROOT, r.get('pred', ''))
        if r.get('pred') and os.path.exists(p):
            correct[n] = (np.load(p) == y).astype(np.float64)

    def boot_acc(n):
        c = correct[n]
        return np.array([c[b].mean() for b in boots])

    def ci(a):
        lo, hi = np.percentile(a, [2.5, 97.5])
        return lo, hi

    sparsities = sorted({n.rsplit('-', 1)[1] for n in rows if n.startswith('slimwav-')} |
                        {n.rsplit('-', 1)[1] for n in rows if n.startswith('magnitude-') and n.rsplit('-', 1)[1].isdigit()})
    t = rows.get('teacher')
    tb = boot_acc('teacher') if 'teacher' in correct else None
    lines = ['| model | params | sparsity | MACs / s audio | probe acc. (held-out voices) | 95% CI | vs teacher (95% CI) | '
             'last layer only |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for name in order(rows, sparsities):
        r = rows.get(name)
        if r is None:
            lines.append(f'| {name} | – | – | – | not run | – | – | – |')
            continue
        acc_ci = rel = '–'
        if name in correct:
            b = boot_acc(name)
            lo, hi = ci(b)
            acc_ci = f'{100 * lo:.1f}–{100 * hi:.1f}'
            if tb is not None and name != 'teacher':
                rlo, rhi = ci(b / tb)
                rel = f'{100 * r["probe_acc"] / t["probe_acc"]:.1f}% ({100 * rlo:.1f}–{100 * rhi:.1f})'
            elif t:
                rel = '100%'
        lines.append(f'| {name} | {r["params"]:,} | {100 * r["sparsity"]:.1f}% | {r["macs_per_second"] / 1e6:.0f} M | '
                     f'{100 * r["probe_acc"]:.1f}% | {acc_ci} | {rel} | {100 * r["probe_acc_last_layer"]:.1f}% |')
    verdict = []
    for s in sparsities:
        sw = f'slimwav-{s}'
        if sw not in correct or tb is None:
            continue
        b = boot_acc(sw)
        rlo, rhi = ci(b / tb)
        ratio = rows[sw]['probe_acc'] / t['probe_acc']
        verdict.append(f'- slimwav at {s}%: {100 * ratio:.1f}% of the teacher\'s probe accuracy (95% CI {100 * rlo:.1f}–'
                       f'{100 * rhi:.1f}%; P(bootstrap ratio ≥ 95%) = {np.mean(b / tb >= 0.95):.2f})')
        for base in (f'magnitude+distill-{s}', f'magnitude-enc+distill-{s}'):
            if base in correct:
                d = b - boot_acc(base)
                lo, hi = ci(d)
                diff = rows[sw]['probe_acc'] - rows[base]['probe_acc']
                clear = 'clearly better' if lo > 0 else 'clearly worse' if hi < 0 else 'not distinguishable'
                verdict.append(f'- {sw} − {base} = {100 * diff:+.1f} points (95% CI {100 * lo:+.1f} to {100 * hi:+.1f}): '
                               f'{clear}')
    text = '\n'.join(lines) + '\n' + ('\n' + '\n'.join(verdict) + '\n' if verdict else '')
    with open(args.out, 'w') as f:
        f.write(text)
    print(text)


if __name__ == '__main__':
    sys.exit(main())
