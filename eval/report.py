#!/usr/bin/python3
"""The quality table from eval/work/results.jsonl (the newest row of each name), as Markdown.

    /usr/bin/python3 eval/report.py [--out eval/results.md]

Rows in table order: teacher, magnitude-50/72, magnitude+distill-50/72, slimwav-50/72 (missing ones are shown as
not run). "vs teacher" is probe accuracy / teacher probe accuracy; the issue's bar at 72% is ≥ 95% and above
magnitude + distillation at the same size.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ['teacher', 'random-init', 'magnitude-50', 'magnitude+distill-50', 'slimwav-50', 'magnitude-72', 'magnitude+distill-72',
         'slimwav-72']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--results', default=os.path.join(HERE, 'work', 'results.jsonl'))
    ap.add_argument('--out', default=os.path.join(HERE, 'results.md'))
    args = ap.parse_args()
    rows = {}
    for line in open(args.results):
        r = json.loads(line)
        rows[r['name']] = r
    t = rows.get('teacher')
    lines = ['| model | params | sparsity | MACs / s audio | probe acc. (held-out voices) | vs teacher | last layer only |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for name in ORDER + sorted(set(rows) - set(ORDER)):
        r = rows.get(name)
        if r is None:
            lines.append(f'| {name} | – | – | – | not run | – | – |')
            continue
        rel = f'{100 * r["probe_acc"] / t["probe_acc"]:.1f}%' if t else '–'
        lines.append(f'| {name} | {r["params"]:,} | {100 * r["sparsity"]:.1f}% | {r["macs_per_second"] / 1e6:.0f} M | '
                     f'{100 * r["probe_acc"]:.1f}% | {rel} | {100 * r["probe_acc_last_layer"]:.1f}% |')
    verdict = []
    s, m = rows.get('slimwav-72'), rows.get('magnitude+distill-72')
    if t and s:
        ok = s['probe_acc'] >= 0.95 * t['probe_acc']
        verdict.append(f'slimwav at 72%: {100 * s["probe_acc"] / t["probe_acc"]:.1f}% of the teacher\'s probe accuracy '
                       f'({"meets" if ok else "MISSES"} the ≥ 95% bar)')
        if m:
            verdict.append(f'slimwav-72 − magnitude+distill-72 = {100 * (s["probe_acc"] - m["probe_acc"]):+.1f} points')
    text = '\n'.join(lines) + '\n' + ''.join(f'\n{v}' for v in verdict) + ('\n' if verdict else '')
    with open(args.out, 'w') as f:
        f.write(text)
    print(text)


if __name__ == '__main__':
    sys.exit(main())
