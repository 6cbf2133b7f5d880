#!/usr/bin/python3
"""The quality table from eval/work/results.jsonl (the newest row of each name), as Markdown.

    /usr/bin/python3 eval/report.py [--out eval/results.md]
    /usr/bin/python3 eval/report.py --split test_more     # the larger second held-out set → eval/results-test_more.md
    /usr/bin/python3 eval/report.py --tag L12 [--split test_more]   # the 12-layer teacher's rows (run_deep.sh)
    /usr/bin/python3 eval/report.py --ablation    # eval/run_ablation.sh's rows → eval/results-ablation.md

Rows: teacher, random-init, then per sparsity: magnitude (all units: conv channels, q/k and v dims, FFN units),
magnitude-enc (encoder only: q/k and v dims, FFN units; the conv stack kept whole), each alone and + distillation,
and slimwav; at 72% also magnitude-mac (all units, the conv channels at their own keep ratio so that the model has
slimwav's parameters and no more of its MACs: the same size in both senses). "vs teacher" is probe accuracy / teacher probe accuracy.

Uncertainty: the 1200 held-out clips come from only 20 voices, and clips of one voice are not independent, so the
95% intervals are a cluster bootstrap over voices (2000 resamples of the 20 voices, all their clips each time;
test_more: 2400 clips, 80 voices),
paired across models (the same resample for every model). The issue's bar at 72%: slimwav ≥ 95% of the teacher,
and clearly above every magnitude + distillation baseline of the same size.

Seed runs are rows named NAME-sSEED (e.g. slimwav-72-s2023, magnitude-enc+distill-72-s2024): each group gets mean ±
sd over its seeds and a two-level bootstrap (voices paired across models, each group's seeds resampled with
replacement), and every slimwav group is compared with the magnitude + distillation baselines of its sparsity (their
seed group when there is one). results-val.jsonl (probe.py --val: training voices only) is summarised per group in
the "Recipe selection" section. A recipe of another total step budget than 2500 (rows …-d<total>) is compared with
baselines given that many distillation steps (magnitude-…+distill-72-d<total>).
"""
import argparse
import json
import os
import re
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(HERE, 'work', 'data')
WORK_FEATURES = os.path.join(HERE, 'work', 'features')
VARIANTS = ['magnitude', 'magnitude+distill', 'magnitude-enc', 'magnitude-enc+distill', 'magnitude-mac',
            'magnitude-mac+distill', 'slimwav']
OPTIONAL = ('magnitude-mac', 'random-init')  # rows listed only where they were run
BASELINES = ('magnitude+distill', 'magnitude-enc+distill', 'magnitude-mac+distill')
N_BOOT = 2000


SEED = re.compile(r'^(.*)-s(\d+)$')


def order(names, sparsities):
    """Standard rows first, each followed by its seed runs (NAME-sSEED), then the rest alphabetically."""
    std = ['teacher', 'random-init']
    for s in sparsities:
        std += [f'{v}-{s}' for v in VARIANTS]
    out = []
    for n in std:
        runs = sorted(m for m in names if SEED.match(m) and SEED.match(m).group(1) == n)
        if n in names or not n.startswith(OPTIONAL):
            out.append(n)
        out += runs
    return out + sorted(set(names) - set(out))


def seed_groups(names):
    """NAME-sSEED rows → {NAME: [row names, by seed]}."""
    g = {}
    for n in names:
        m = SEED.match(n)
        if m:
            g.setdefault(m.group(1), []).append(n)
    return {k: sorted(v, key=lambda n: int(SEED.match(n).group(2))) for k, v in g.items()}


def slimwav_sparsity(group):
    """'slimwav-72' or 'slimwav-72-r1000' → '72'."""
    m = re.match(r'^slimwav-(\d+)(-|$)', group)
    return m.group(1) if m else None


def newest_rows(path):
    """The newest JSON line of each name in a results file."""
    rows = {}
    for line in open(path):
        r = json.loads(line)
        rows[r['name']] = r
    return rows


def voice_boots(clips, seed):
    """Cluster-bootstrap index sets: N_BOOT resamples of the voices, each with all of its clips."""
    voices = sorted({c['voice'] for c in clips})
    vid = np.array([voices.index(c['voice']) for c in clips])
    members = [np.nonzero(vid == v)[0] for v in range(len(voices))]
    rng = np.random.default_rng(seed)
    boots = [np.concatenate([members[v] for v in rng.integers(0, len(voices), len(voices))]) for _ in range(N_BOOT)]
    return boots, rng


def resample_seeds(a, rng):
    """a [seeds, N_BOOT] bootstrap accuracies of one group's runs → N_BOOT group means, the seeds resampled with
    replacement per bootstrap draw (the second level of the voices + seeds bootstrap)."""
    pick = rng.integers(0, len(a), (N_BOOT, len(a)))
    return a[pick, np.arange(N_BOOT)[:, None]].mean(1)


def val_section(path):
    """Recipe selection: language-grouped cross-validation on the training voices' probe_train (probe.py --val).
    Each slimwav recipe group is compared with the default recipe's group (slimwav-SS) of its sparsity: difference of
    the seed means, 95% interval from a two-level bootstrap (the 64 training voices, paired; each group's seeds)."""
    if not os.path.exists(path):
        return ''
    rows = newest_rows(path)
    groups = seed_groups(rows)
    boots, rng = voice_boots(json.load(open(os.path.join(DATA, 'probe_train.json')))['clips'], 2)
    correct = {}
    for n in rows:
        p = os.path.join(HERE, 'work', 'features', n, 'correct_val.npy')
        if os.path.exists(p):
            correct[n] = np.load(p).astype(np.float64)

    def group_boot(names):
        return resample_seeds(np.stack([[correct[n][b].mean() for b in boots] for n in names]), rng)

    lines = ['| recipe (seed runs) | seeds | val. acc. per seed | mean ± sd | vs the default recipe (95% CI) |',
             '| --- | --- | --- | ---: | ---: |']
    gb = {}
    for g in sorted(groups):
        accs = [rows[n]['val_acc'] for n in groups[g]]
        seeds = ', '.join(SEED.match(n).group(2) for n in groups[g])
        sd = f' ± {100 * np.std(accs, ddof=1):.1f}' if len(accs) > 1 else ''
        vs = '–'
        sp = slimwav_sparsity(g)
        ref = f'slimwav-{sp}' if sp else None
        if ref and g != ref and ref in groups and all(n in correct for n in groups[g] + groups[ref]):
            for k in (g, ref):
                if k not in gb:
                    gb[k] = group_boot(groups[k])
            lo, hi = np.percentile(gb[g] - gb[ref], [2.5, 97.5])
            d = np.mean(accs) - np.mean([rows[n]['val_acc'] for n in groups[ref]])
            vs = f'{100 * d:+.1f} ({100 * lo:+.1f} to {100 * hi:+.1f})'
        lines.append(f'| {g} | {seeds} | {" / ".join(f"{100 * a:.1f}" for a in accs)} | {100 * np.mean(accs):.1f}{sd} | {vs} |')
    single = [n for n in sorted(rows) if not SEED.match(n)]
    if single:
        lines.append('')
        lines.append('Single runs: ' + '; '.join(f'{n} {100 * rows[n]["val_acc"]:.1f}' for n in single) + '.')
    return '\n'.join(lines) + '\n'


ABLATION = [('full', 'full method: fine-grained heads + straight-through estimator'),
            ('whole-head', '--units whole-head: heads kept or removed whole'),
            ('no-ste', '--no-ste: the hard-concrete relaxation alone'),
            ('scratch', "the full run's layout, random init, distilled for the same total steps"),
            ('speed', '--target-speedup (cost model)'),
            ('size', '--target-sparsity at about the same measured speed'),
            ('noconv', '--units head,qk,v,attn,ffn,ffnblock: the conv stack kept whole')]
LATE = {'noconv': 4}  # variants added later draw from their own generator, so the earlier rows' intervals stay put


def task_table(T, groups, rng, kind):
    """A second task table for the ablation's seed groups of teacher T; intervals as the word table's (voices paired
    across models, seeds resampled), and the noconv − full difference. rng: a generator shared by the variants in
    order, or an int seeding one generator per variant. kind: 'speaker' (probe.py --task speaker: who of
    the 20 held-out voices speaks, probe trained on 20 words and scored on the other 10;
    work/results-ablation-speaker.jsonl), 'val-speaker' (its validation form, --task speaker --val: the 64 training
    voices in 4 groups of 16, train + probe_train clips; work/results-ablation-val-speaker.jsonl), 'speaker-more' (the
    speaker task on test_more, 80 more held-out voices in 4 groups of 20; work/results-ablation-speaker-test_more.jsonl),
    'speaker-all' (the two pooled) or 'val-word' (the word task's validation form, --val: probe_train by
    training-language folds; work/results-ablation-val.jsonl)."""
    files = {'speaker': 'results-ablation-speaker.jsonl', 'val-speaker': 'results-ablation-val-speaker.jsonl',
             'speaker-more': 'results-ablation-speaker-test_more.jsonl', 'val-word': 'results-ablation-val.jsonl'}
    if kind == 'speaker-all':  # test and test_more pooled: every held-out voice
        paths = [os.path.join(HERE, 'work', files[k]) for k in ('speaker', 'speaker-more')]
        if not all(os.path.exists(p) for p in paths):
            return []
        both = [newest_rows(p) for p in paths]
        rows = {n: {'pred': [b[n]['pred'] for b in both]} for n in both[0] if n in both[1]}  # accuracy set below
    else:
        path = os.path.join(HERE, 'work', files[kind])
        if not os.path.exists(path):
            return []
        rows = newest_rows(path)
    if f'{T}-teacher' not in rows:
        return []
    acc = (lambda r: r['val_acc']) if kind == 'val-word' else (lambda r: r['probe_acc'])
    if kind == 'val-word':
        sub = json.load(open(os.path.join(DATA, 'probe_train.json')))['clips']

        def correct(n):
            return np.load(os.path.join(WORK_FEATURES, n, 'correct_val.npy')).astype(np.float64)
        head = (f'Word task, validation form (probe_train\'s {len(sub)} clips, 4 folds by training language, each scored '
                'by a probe that never heard its language or voices)')
    else:
        if kind == 'val-speaker':
            from probe import SPEAKER_VAL_GROUPS, speaker_val_split
            y_all, _, _, scored, clips = speaker_val_split()
            sub = [c for c, k in zip(clips, scored) if k]
            y = y_all[scored]
            n_voices = len(np.unique(y_all))
            per_group = n_voices // SPEAKER_VAL_GROUPS
            which = (f'validation form, for choosing recipes: who of {per_group} training voices speaks, the {n_voices} in '
                     f'{SPEAKER_VAL_GROUPS} fixed groups, train + probe_train clips, {len(sub)} scored')
        else:
            splits = {'speaker': ['test'], 'speaker-more': ['test_more'], 'speaker-all': ['test', 'test_more']}[kind]
            sub, ys = [], []
            for split in splits:
                clips = json.load(open(os.path.join(DATA, f'{split}.json')))['clips']
                voices = sorted({c['voice'] for c in clips})
                sub += [c for c in clips if c['label'] >= 20]  # the scored words (probe.py SPEAKER_TRAIN_WORDS)
                ys.append(np.array([voices.index(c['voice']) for c in clips if c['label'] >= 20]))
            y = np.concatenate(ys)
            n_voices = len({c['voice'] for c in sub})
            per_group = 20
            which = {'speaker': f'who of the {n_voices} held-out voices speaks',
                     'speaker-more': f'the second held-out set, test_more: who of 20 voices speaks, its {n_voices} in '
                                     f'{n_voices // 20} fixed groups, {len(sub)} scored',
                     'speaker-all': f'test and test_more pooled: all {n_voices} held-out voices, each asked among 20, '
                                    f'{len(sub)} scored'}[kind]

        def correct(n):
            preds = rows[n]['pred'] if kind == 'speaker-all' else [rows[n]['pred']]
            return (np.concatenate([np.load(os.path.join(ROOT, p)) for p in preds]) == y).astype(np.float64)
        head = f'Speaker task ({which}; probe trained on 20 words, scored on the other 10; chance {100 / per_group:.1f}%)'
    boots, _ = voice_boots(sub, 3)

    def boot(n):
        c = correct(n)
        return np.array([c[b].mean() for b in boots])

    if kind == 'speaker-all':
        for n, r in rows.items():
            r['probe_acc'] = float(correct(n).mean())
    t, tb = rows[f'{T}-teacher'], boot(f'{T}-teacher')
    out = [f'{head}: teacher {100 * acc(t):.1f}%.', '',
           '| variant | seeds | accuracy (mean ± sd) | 95% CI | vs teacher (95% CI) |', '| --- | ---: | ---: | ---: | ---: |']
    g = {}
    for i, (v, _what) in enumerate(ABLATION):
        ns = [n for n in groups.get(f'{T}-{v}', []) if n in rows]
        if not ns:
            continue
        accs = [acc(rows[n]) for n in ns]
        # an int: a generator per variant, so a variant's interval does not depend on which others have rows
        vrng = np.random.default_rng([rng, i]) if isinstance(rng, int) else rng
        g[v] = (np.mean(accs), resample_seeds(np.stack([boot(n) for n in ns]), vrng))
        lo, hi = np.percentile(g[v][1], [2.5, 97.5])
        rlo, rhi = np.percentile(g[v][1] / tb, [2.5, 97.5])
        sd = f' ± {100 * np.std(accs, ddof=1):.1f}' if len(accs) > 1 else ''
        out.append(f'| {v} | {len(ns)} | {100 * np.mean(accs):.1f}{sd} | {100 * lo:.1f}–{100 * hi:.1f} | '
                   f'{100 * np.mean(accs) / acc(t):.1f}% ({100 * rlo:.1f}–{100 * rhi:.1f}) |')
    if 'noconv' in g and 'full' in g:
        lo, hi = np.percentile(g['noconv'][1] - g['full'][1], [2.5, 97.5])
        clear = 'clearly better' if lo > 0 else 'clearly worse' if hi < 0 else 'not distinguishable'
        out += ['', f'noconv − full = {100 * (g["noconv"][0] - g["full"][0]):+.1f} points (95% CI {100 * lo:+.1f} to '
                    f'{100 * hi:+.1f}): {clear}']
    return out + ['']


def ablation_report(out):
    """eval/run_ablation.sh's rows (work/results-ablation.jsonl, names <teacher>-<variant>-s<seed>) with their measured
    times (work/timing-ablation.jsonl, eval/speed.mjs) → the ablation table and the latency-target comparison."""
    path = os.path.join(HERE, 'work', 'results-ablation.jsonl')
    if not os.path.exists(path):
        print(f'no {path}: run eval/run_ablation.sh first', file=sys.stderr)
        return 1
    rows = newest_rows(path)
    tpath = os.path.join(HERE, 'work', 'timing-ablation.jsonl')
    timing = newest_rows(tpath) if os.path.exists(tpath) else {}
    clips = json.load(open(os.path.join(DATA, 'test.json')))['clips']
    y = np.array([c['label'] for c in clips])
    boots, _ = voice_boots(clips, 0)

    def boot(n):
        c = (np.load(os.path.join(ROOT, rows[n]['pred'])) == y).astype(np.float64)
        return np.array([c[b].mean() for b in boots])

    def ci(a):
        return np.percentile(a, [2.5, 97.5])

    text = ['# Pruner ablations and pruning to a latency target', '',
            'Written by `eval/report.py --ablation` from `eval/run_ablation.sh`\'s runs (72% sparsity unless a speed is the '
            'target; the same recipe, step budget and seeds for every variant). Probe accuracy on the held-out voices, '
            'mean ± sd over seeds; intervals: two-level bootstrap (voices paired across models, seeds resampled). Time: '
            '`eval/speed.mjs time`, one thread, 10 s clip, fastest of 7 calls interleaved with the teacher, each model on '
            'its own (the teacher\'s) shape.', '']
    tags = sorted({n.split('-', 1)[0] for n in rows if n.endswith('-teacher')}, key=lambda T: int(T[1:]))
    for T in tags:
        srng = np.random.default_rng(1)  # per teacher: one teacher's intervals do not depend on the others' rows
        t = rows.get(f'{T}-teacher')
        tb = boot(f'{T}-teacher')
        known = {v for v, _ in ABLATION}  # other rows (exploratory runs) neither show nor draw from the generators
        groups = {g: ns for g, ns in seed_groups({n: r for n, r in rows.items() if n.startswith(T + '-')}).items()
                  if g.split('-', 1)[1] in known}
        gb = {g: resample_seeds(np.stack([boot(n) for n in ns]), srng) for g, ns in groups.items()
              if g.split('-', 1)[1] not in LATE}
        gb.update({g: resample_seeds(np.stack([boot(n) for n in ns]), np.random.default_rng(LATE[g.split('-', 1)[1]]))
                   for g, ns in groups.items() if g.split('-', 1)[1] in LATE})
        text += [f'## Teacher {T} ({t["params"]:,} params, probe {100 * t["probe_acc"]:.1f}%)', '',
                 '| variant | seeds | params | MACs / s | time (ms) | speedup | probe acc. (mean ± sd) | 95% CI | vs teacher (95% CI) |',
                 '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
        for v, what in ABLATION:
            g = f'{T}-{v}'
            if g not in groups:
                text.append(f'| {v}: {what} | – | – | – | – | – | not run | – | – |')
                continue
            ns = groups[g]
            accs = [rows[n]['probe_acc'] for n in ns]
            tm = [timing[n] for n in ns if n in timing]
            ms = f'{np.mean([r["ms"] for r in tm]):.1f}' if tm else 'not yet measured'
            sp = f'{np.mean([r["speedup"] for r in tm]):.2f}×' if tm else '–'
            lo, hi = ci(gb[g])
            rlo, rhi = ci(gb[g] / tb)
            sd = f' ± {100 * np.std(accs, ddof=1):.1f}' if len(accs) > 1 else ''
            text.append(f'| {v}: {what} | {len(ns)} | {np.mean([rows[n]["params"] for n in ns]):,.0f} | '
                        f'{np.mean([rows[n]["macs_per_second"] for n in ns]) / 1e6:.0f} M | {ms} | {sp} | '
                        f'{100 * np.mean(accs):.1f}{sd} | {100 * lo:.1f}–{100 * hi:.1f} | '
                        f'{100 * np.mean(accs) / t["probe_acc"]:.1f}% ({100 * rlo:.1f}–{100 * rhi:.1f}) |')
        text.append('')
        text += task_table(T, groups, srng, 'speaker')
        # the later tables draw from their own generators, one per variant: the rest stays as it was
        text += task_table(T, groups, 6, 'speaker-more')
        text += task_table(T, groups, 7, 'speaker-all')
        text += task_table(T, groups, 2, 'val-speaker')
        text += task_table(T, groups, 5, 'val-word')
        pairs = [(v, 'full') for v in ('whole-head', 'no-ste', 'scratch')] + [('speed', 'size'), ('noconv', 'full')]
        for a_, b_ in pairs:
            ga, gb_ = f'{T}-{a_}', f'{T}-{b_}'
            if ga not in groups or gb_ not in groups:
                continue
            d = gb[ga] - gb[gb_]
            lo, hi = ci(d)
            diff = np.mean([rows[n]['probe_acc'] for n in groups[ga]]) - np.mean([rows[n]['probe_acc'] for n in groups[gb_]])
            clear = 'clearly better' if lo > 0 else 'clearly worse' if hi < 0 else 'not distinguishable'
            extra = ''
            if (a_, b_) == ('speed', 'size'):
                sa = [timing[n]['speedup'] for n in groups[ga] if n in timing]
                sb = [timing[n]['speedup'] for n in groups[gb_] if n in timing]
                if sa and sb:
                    extra = f' (measured speedups {np.mean(sa):.2f}× vs {np.mean(sb):.2f}×: compare only when they are level)'
            text.append(f'- {T}: {a_} − {b_} = {100 * diff:+.1f} points (95% CI {100 * lo:+.1f} to {100 * hi:+.1f}): {clear}{extra}')
        text.append('')
    md = '\n'.join(text) + '\n'
    with open(out, 'w') as f:
        f.write(md)
    print(md)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--split', default='test', choices=('test', 'test_more'),
                    help='test_more: the larger second held-out set (probe.py --test-split test_more)')
    ap.add_argument('--results', help='default: work/results.jsonl (test) or work/results-SPLIT.jsonl')
    ap.add_argument('--val-results', default=os.path.join(HERE, 'work', 'results-val.jsonl'))
    ap.add_argument('--tag', help='another teacher\'s rows (run_deep.sh: L12): work/results-TAG[-SPLIT].jsonl, rows named '
                    'TAG-<row> → eval/results-TAG[-SPLIT].md; no validation section')
    ap.add_argument('--out', help='default: eval/results.md (test) or eval/results-SPLIT.md')
    ap.add_argument('--ablation', action='store_true',
                    help='eval/run_ablation.sh\'s rows (work/results-ablation.jsonl, work/timing-ablation.jsonl) → eval/results-ablation.md')
    args = ap.parse_args()
    if args.ablation:
        return ablation_report(args.out or os.path.join(HERE, 'results-ablation.md'))
    sfx = ('' if args.tag is None else f'-{args.tag}') + ('' if args.split == 'test' else f'-{args.split}')
    rows = newest_rows(args.results or os.path.join(HERE, 'work', f'results{sfx}.jsonl'))
    if args.tag:  # TAG-<row> → <row>: the same table logic for another teacher's rows
        rows = {n[len(args.tag) + 1:]: r for n, r in rows.items() if n.startswith(args.tag + '-')}
    args.out = args.out or os.path.join(HERE, f'results{sfx}.md')
    clips = json.load(open(os.path.join(DATA, f'{args.split}.json')))['clips']
    y = np.array([c['label'] for c in clips])
    boots, rng = voice_boots(clips, 0)
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

    sparsities = sorted({n.rsplit('-', 1)[1] for n in rows if n.startswith('slimwav-') and n.rsplit('-', 1)[1].isdigit()} |
                        {n.rsplit('-', 1)[1] for n in rows if n.startswith('magnitude-') and n.rsplit('-', 1)[1].isdigit()})
    t = rows.get('teacher')
    tb = boot_acc('teacher') if 'teacher' in correct else None
    lines = ['| model | params | sparsity | MACs / s audio | probe acc. (held-out voices) | 95% CI | vs teacher (95% CI) | '
             'last layer only |',
             '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for name in order(rows, sparsities):
        r = rows.get(name)
        if r is None:
            if args.tag:
                continue  # another teacher's table lists only what was run for it
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
        for base in (f'{v}-{s}' for v in BASELINES):
            if base in correct:
                d = b - boot_acc(base)
                lo, hi = ci(d)
                diff = rows[sw]['probe_acc'] - rows[base]['probe_acc']
                clear = 'clearly better' if lo > 0 else 'clearly worse' if hi < 0 else 'not distinguishable'
                verdict.append(f'- {sw} − {base} = {100 * diff:+.1f} points (95% CI {100 * lo:+.1f} to {100 * hi:+.1f}): '
                               f'{clear}')
    # seed runs: mean ± sd, and a two-level bootstrap (voices, paired across models; seeds, resampled per group)
    groups = {g: [n for n in ns if n in correct] for g, ns in seed_groups(rows).items()}
    groups = {g: ns for g, ns in groups.items() if ns}
    seed_lines, seed_verdict = [], []
    if groups and tb is not None:
        srng = np.random.default_rng(1)
        bmat = {n: boot_acc(n) for ns in groups.values() for n in ns}

        gcache = {}

        def group_boot(names):  # one draw per group, shared by the table and the verdicts
            key = tuple(names)
            if key not in gcache:
                gcache[key] = resample_seeds(np.stack([bmat[n] for n in names]), srng)
            return gcache[key]

        def single_or_group(name):
            if name in groups:
                return groups[name], group_boot(groups[name])
            if name in correct:
                return [name], boot_acc(name)
            return None, None

        seed_lines = ['| model (seed runs) | seeds | probe acc. per seed | mean ± sd | 95% CI (voices + seeds) | '
                      'vs teacher (95% CI) |', '| --- | --- | --- | ---: | ---: | ---: |']
        for g in sorted(groups):
            ns = groups[g]
            accs = [rows[n]['probe_acc'] for n in ns]
            b = group_boot(ns)
            lo, hi = ci(b)
            rlo, rhi = ci(b / tb)
            sd = f' ± {100 * np.std(accs, ddof=1):.1f}' if len(accs) > 1 else ''
            seeds = ', '.join(SEED.match(n).group(2) for n in ns)
            seed_lines.append(f'| {g} | {seeds} | {" / ".join(f"{100 * a:.1f}" for a in accs)} | {100 * np.mean(accs):.1f}{sd} | '
                              f'{100 * lo:.1f}–{100 * hi:.1f} | {100 * np.mean(accs) / t["probe_acc"]:.1f}% ({100 * rlo:.1f}–{100 * rhi:.1f}) |')
        for g in sorted(groups):
            s_ = slimwav_sparsity(g)
            if s_ is None:
                continue
            ns = groups[g]
            b = group_boot(ns)
            mean = np.mean([rows[n]['probe_acc'] for n in ns])
            rlo, rhi = ci(b / tb)
            seed_verdict.append(f'- {g} ({len(ns)} seeds): {100 * mean / t["probe_acc"]:.1f}% of the teacher (95% CI {100 * rlo:.1f}–'
                                f'{100 * rhi:.1f}%; P(≥ 95%) = {np.mean(b / tb >= 0.95):.2f})')
            budget = re.search(r'-d\d+$', g)  # a recipe of another step budget: baselines distilled as long
            for base in (f'{v}-{s_}{budget.group(0) if budget else ""}' for v in BASELINES):
                bn, bb = single_or_group(base)
                if bn is None:
                    continue
                d = b - bb
                lo, hi = ci(d)
                diff = mean - np.mean([rows[n]['probe_acc'] for n in bn])
                pairs = [rows[a]['probe_acc'] - rows[c]['probe_acc'] for a in ns for c in bn]
                clear = 'clearly better' if lo > 0 else 'clearly worse' if hi < 0 else 'not distinguishable'
                seed_verdict.append(f'- {g} − {base} ({len(bn)} run{"s" if len(bn) > 1 else ""}) = {100 * diff:+.1f} points (95% CI '
                                    f'{100 * lo:+.1f} to {100 * hi:+.1f}; seed pairs {100 * min(pairs):+.1f} to {100 * max(pairs):+.1f}): {clear}')
    text = '\n'.join(lines) + '\n' + ('\n' + '\n'.join(verdict) + '\n' if verdict else '')
    if seed_lines:
        text += ('\n### Seed runs (NAME-sSEED rows above)\n\nMean ± sample sd over seeds. Intervals: a two-level bootstrap, the '
                 f'{len({c["voice"] for c in clips})} held-out voices resampled (paired across models) and each group\'s seeds resampled with replacement, so both the '
                 'test-set and the seed-to-seed spread are in them.\n\n' + '\n'.join(seed_lines) + '\n\n' + '\n'.join(seed_verdict) + '\n')
    val = val_section(args.val_results) if args.split == 'test' and not args.tag else ''
    if val:
        text += ('\n### Recipe selection (training voices only)\n\n`probe.py --val`: the same probe, 4-fold cross-validation on '
                 'probe_train grouped by training language; the test voices are not used. slimwav-72-rN: N gated + (2500 − N) '
                 'final steps; -lw: --mode layerwise; -glrNN: --gate-lr NN/100 (default 0.02); -swNN: --sparsity-warmup NN/100 '
                 '(default 0.30); -lrNN: --lr NN·1e-5 (default 20), given to the magnitude-enc baseline\'s distillation too '
                 '(magnitude-enc+distill-72-lrNN); -enc: the conv stack not pruned; slimwav-72: 2000 + 500, full mode (the '
                 'default recipe).\n\n' + val)
    with open(args.out, 'w') as f:
        f.write(text)
    print(text)


if __name__ == '__main__':
    sys.exit(main())
