#!/usr/bin/python3
"""SUPERB-style linear probe of a model's hidden states, on voices the teacher never heard.

    /usr/bin/python3 eval/probe.py <model-folder> [--name NAME] [--teacher eval/work/teacher] [--threads 2]
                                   [--test-split test|test_more]

1. Features through slimwav itself (eval/extract.mjs → dist/src/index.js load().extract, every hidden state 0..L),
   mean-pooled over frames, for probe_train (new renditions of the train voices) and test (held-out voices:
   languages and variants no training voice uses). Cached in eval/work/features/NAME/ until the model changes.
2. Probe (SUPERB's featurizer + utterance-level linear downstream): each layer's pooled vector standardised with
   probe_train statistics, softmax-normalised learned layer weights → weighted sum → linear classifier over the
   30 words; full-batch Adam, fixed seed and schedule, the same for every model. Trained on probe_train only.
3. Reports accuracy on the held-out voices; appends one JSON line to eval/work/results.jsonl and prints it, and
   keeps the per-clip predictions (features/NAME/pred_test.npy) for report.py's paired confidence intervals.
   `--test-split test_more` scores the larger second held-out set instead (80 more voices of the held-out languages
   and variants; make_data.py): work/results-test_more.jsonl, features/NAME/pred_test_more.npy.

    /usr/bin/python3 eval/probe.py <model-folder> --val [--name NAME]

`--val` is for choosing among pruning recipes without looking at the test voices: it never extracts or reads the
test split. The same probe is trained and scored on probe_train alone, by 4-fold cross-validation grouped by
*language* (the 12 training languages split into 4 folds of ~16 voices; each fold is scored by a probe trained on the
other three), so, like the test, every clip is scored by a probe that never heard its language or its voice. Appends
to eval/work/results-val.jsonl (`val_acc` over all 1920 clips, per-fold accuracies) and keeps the per-clip
correctness in features/NAME/correct_val.npy.

    /usr/bin/python3 eval/probe.py <model-folder> --task speaker [--test-split test|test_more]

`--task speaker` asks what pruning tends to lose first: who is speaking. Speaker identification among the held-out
voices (the 20 of `test`; `test_more`'s 80 in 4 fixed groups of 20, one probe per group; no training voice is among
them): the same probe, the label being the voice, trained on the clips of 20 words (`zero` … `go`) and scored on the
clips of the other 10 (`cat` … `follow`), so it cannot succeed by recognising the word. Uses the features `--task
word` already extracted for that split. Appends to work/results-speaker.jsonl (work/results-speaker-SPLIT.jsonl for
test_more), per-clip predictions in features/NAME/pred_speaker_SPLIT.npy.

    /usr/bin/python3 eval/probe.py <model-folder> --task speaker --val

The speaker task for recipe selection, never reading the test split: the 64 training voices in 4 fixed groups of 16
(so each question is about as hard as the held-out one among 20), the probe trained on the clips of words 0..19 and
scored on the clips of words 20..29, from both train (4 renditions per word; the teacher trained on them, for words,
not voices) and probe_train (1 rendition): 3200 scored clips. Appends to work/results-val-speaker.jsonl, per-clip
predictions (voice indices over all 64) in features/NAME/pred_speaker_val.npy. It replaced a first form (all 64
voices at once, probe_train only: 640 clips, the 12-layer teacher at 5.6% against a chance of 1.6%) that was too
weak to rank recipes.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, 'work')
DATA = os.path.join(WORK, 'data')
SPLITS = ('probe_train', 'test')
SPEAKER_TRAIN_WORDS = 20  # speaker task: words 0..19 train the probe, 20..29 score it
SPEAKER_VAL_GROUPS, SPEAKER_VAL_SEED = 4, 7  # the validation form: 64 training voices in 4 fixed groups
SPEAKER_VAL_SPLITS = ('train', 'probe_train')
EPOCHS, LR, WD = 600, 5e-3, 1e-3


def inspect(model):
    out = subprocess.run(['node', os.path.join(ROOT, 'bin', 'slimwav.js'), 'inspect', model, '--json'],
                         check=True, stdout=subprocess.PIPE).stdout
    return json.loads(out)


def features(model, name, threads, splits=SPLITS, dtype='f32'):
    fdir = os.path.join(WORK, 'features', name)
    info_p = os.path.join(fdir, 'info.json')
    src = [os.path.join(model, f) for f in os.listdir(model)] if os.path.isdir(model) else [model]
    newest = max(os.path.getmtime(p) for p in src)
    fresh = os.path.exists(info_p) and os.path.getmtime(info_p) > newest and \
        json.load(open(info_p)).get('model') == os.path.abspath(model) and \
        json.load(open(info_p)).get('dtype', 'f32') == dtype
    # a split's features are stale when the model changed after info.json was written
    need = [s for s in splits if not (fresh and os.path.exists(os.path.join(fdir, f'{s}.npy')) and
                                      os.path.getmtime(os.path.join(fdir, f'{s}.npy')) > newest)]
    if need:
        subprocess.run(['node', os.path.join(HERE, 'extract.mjs'), model, fdir]
                       + [os.path.join(DATA, f'{s}.npy') for s in need] + ['--threads', str(threads), '--dtype', dtype], check=True)
    info = json.load(open(info_p))
    return {s: np.load(os.path.join(fdir, f'{s}.npy')) for s in splits}, info, not need


def labels(split):
    return np.array([c['label'] for c in json.load(open(os.path.join(DATA, f'{split}.json')))['clips']])


def train_probe(xtr, ytr, xte, yte, layers=None, seed=0):
    """xtr [N, L+1, D] pooled features. layers: restrict to these indices (None = all, learned weights)."""
    torch.manual_seed(seed)
    if layers is not None:
        xtr, xte = xtr[:, layers], xte[:, layers]
    mu = xtr.mean(0, keepdims=True)
    sd = xtr.std(0, keepdims=True) + 1e-5
    xtr = torch.from_numpy(((xtr - mu) / sd).astype(np.float32))
    xte = torch.from_numpy(((xte - mu) / sd).astype(np.float32))
    ytr_t, yte_t = torch.from_numpy(ytr), torch.from_numpy(yte)
    n_layers, dim, n_cls = xtr.shape[1], xtr.shape[2], int(ytr.max()) + 1
    w = torch.zeros(n_layers, requires_grad=True)
    lin = torch.nn.Linear(dim, n_cls)
    opt = torch.optim.Adam([{'params': [w], 'weight_decay': 0.0},
                            {'params': lin.parameters(), 'weight_decay': WD}], lr=LR)

    def fwd(x):
        return lin(torch.einsum('l,nld->nd', torch.softmax(w, 0), x))

    for _ in range(EPOCHS):
        loss = torch.nn.functional.cross_entropy(fwd(xtr), ytr_t)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc_tr = float((fwd(xtr).argmax(1) == ytr_t).float().mean())
        acc_te = float((fwd(xte).argmax(1) == yte_t).float().mean())
        wts = torch.softmax(w, 0).numpy()
        pred = fwd(xte).argmax(1).numpy()
    return acc_te, acc_tr, wts, pred


def language_folds(voices, k=4):
    """Voice names (language+variant) → fold index per clip: whole languages per fold, biggest first, each to the
    fold with the fewest voices so far (deterministic)."""
    langs = {}
    for v in sorted(set(voices)):
        langs.setdefault(v.split('+')[0], []).append(v)
    size, fold_of = [0] * k, {}
    for lang in sorted(langs, key=lambda l: (-len(langs[l]), l)):
        f = min(range(k), key=lambda i: (size[i], i))
        size[f] += len(langs[lang])
        fold_of[lang] = f
    return np.array([fold_of[v.split('+')[0]] for v in voices])


def validate(args, name):
    """Recipe selection without the test voices: language-grouped 4-fold cross-validation on probe_train."""
    t0 = time.time()
    feats, info, cached = features(args.model, name, args.threads, splits=('probe_train',), dtype=args.dtype)
    clips = json.load(open(os.path.join(DATA, 'probe_train.json')))['clips']
    x, y = feats['probe_train'], labels('probe_train')
    folds = language_folds([c['voice'] for c in clips])
    correct = np.zeros(len(y), dtype=np.int8)
    fold_acc = []
    for f in range(folds.max() + 1):
        tr, va = folds != f, folds == f
        acc, _, _, pred = train_probe(x[tr], y[tr], x[va], y[va])
        correct[va] = pred == y[va]
        fold_acc.append(round(acc, 4))
    np.save(os.path.join(WORK, 'features', name, 'correct_val.npy'), correct)
    row = {
        'name': name, 'model': os.path.relpath(os.path.abspath(args.model), ROOT), 'dtype': args.dtype, 'params': info['params'],
        'macs_per_second': info['macs_per_second'], 'val_acc': round(float(correct.mean()), 4), 'fold_acc': fold_acc,
        'fold_sizes': [int((folds == f).sum()) for f in range(folds.max() + 1)],
        'seconds': round(time.time() - t0, 1), 'extracted': not cached,
    }
    path = args.results or os.path.join(WORK, 'results-val.jsonl')
    with open(path, 'a') as f:
        f.write(json.dumps(row) + '\n')
    print(json.dumps(row))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('model')
    ap.add_argument('--name', help='row name (default: the folder name)')
    ap.add_argument('--teacher', default=os.path.join(WORK, 'teacher'), help='for the sparsity column')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--results', help='default: work/results.jsonl (test) or work/results-SPLIT.jsonl')
    ap.add_argument('--test-split', default='test', choices=('test', 'test_more'))
    ap.add_argument('--dtype', default=os.environ.get('SLIMWAV_DTYPE', 'f32'), choices=('f32', 'q8'),
                    help='run the model with int8 weights (q8); the default row name gets a -q8 suffix')
    ap.add_argument('--f32-name', help='with --dtype q8: the f32 row to compare with (default: the name without -q8)')
    ap.add_argument('--task', default='word', choices=('word', 'speaker'),
                    help='word (30 words, probe trained on probe_train) or speaker (held-out voices, split by word)')
    ap.add_argument('--val', action='store_true',
                    help='recipe selection, never reading the test split: the word task scored on held-out training languages '
                         'of probe_train, the speaker task among the training voices in groups of 16')
    args = ap.parse_args()
    torch.set_num_threads(1)
    name = args.name or os.path.basename(os.path.normpath(args.model)) + ('-q8' if args.dtype == 'q8' else '')
    if args.val and args.task == 'word':
        return validate(args, name)
    if args.task == 'speaker':
        return speaker(args, name)
    t0 = time.time()
    ts = args.test_split
    results = args.results or os.path.join(WORK, 'results.jsonl' if ts == 'test' else f'results-{ts}.jsonl')
    feats, info, cached = features(args.model, name, args.threads, splits=('probe_train', ts), dtype=args.dtype)
    t1 = time.time()
    ytr, yte = labels('probe_train'), labels(ts)
    acc, acc_tr, wts, pred = train_probe(feats['probe_train'], ytr, feats[ts], yte)
    pred_path = os.path.join(WORK, 'features', name, f'pred_{ts}.npy')
    np.save(pred_path, pred.astype(np.int16))
    last = feats[ts].shape[1] - 1
    acc_last, _, _, _ = train_probe(feats['probe_train'], ytr, feats[ts], yte, layers=[last])
    teacher_params = inspect(args.teacher)['params']
    row = {
        'name': name, 'model': os.path.relpath(os.path.abspath(args.model), ROOT), 'dtype': args.dtype,
        'params': info['params'], 'sparsity': round(1 - info['params'] / teacher_params, 4),
        'macs_per_second': info['macs_per_second'],
        'probe_acc': round(acc, 4), 'probe_acc_last_layer': round(acc_last, 4), 'probe_train_acc': round(acc_tr, 4),
        'layer_weights': [round(float(x), 3) for x in wts],
        'n_train': int(len(ytr)), 'n_test': int(len(yte)), 'pred': os.path.relpath(pred_path, ROOT),
        'extract_seconds': None if cached else round(t1 - t0, 1), 'probe_seconds': round(time.time() - t1, 1),
    }
    if args.dtype == 'q8':
        row['vs_f32'] = q8_vs_f32(args, name, pred, ts)
    os.makedirs(os.path.dirname(results), exist_ok=True)
    with open(results, 'a') as f:
        f.write(json.dumps(row) + '\n')
    print(json.dumps(row))


def speaker_clips(splits, k):
    """The speaker task's clips of the given splits, in order: (voice index per clip, group per clip, probe-train mask,
    scored mask, clips). The voices are asked in k fixed groups (voice_groups), one probe per group."""
    clips = [c for s in splits for c in json.load(open(os.path.join(DATA, f'{s}.json')))['clips']]
    voices = sorted({c['voice'] for c in clips})
    y = np.array([voices.index(c['voice']) for c in clips])
    word = np.array([c['label'] for c in clips])
    return y, voice_groups(voices, k)[y], word < SPEAKER_TRAIN_WORDS, word >= SPEAKER_TRAIN_WORDS, clips


def speaker_split(ts):
    """The held-out speaker task on split ts: test's 20 voices in one group, test_more's 80 in 4 groups of 20 (the same
    question as test's)."""
    return speaker_clips([ts], 4 if ts == 'test_more' else 1)


def speaker_val_split():
    """The validation form: the 64 training voices of train + probe_train in SPEAKER_VAL_GROUPS groups."""
    return speaker_clips(SPEAKER_VAL_SPLITS, SPEAKER_VAL_GROUPS)


def voice_groups(voices, k):
    """Voice names → fixed group per voice (k groups of equal size; a seeded permutation, the same for every model)."""
    perm = np.random.default_rng(SPEAKER_VAL_SEED).permutation(len(voices))
    group_of = np.empty(len(voices), dtype=np.int64)
    group_of[perm] = np.arange(len(voices)) % k
    return group_of


def grouped_probe(x, y, group, tr, te):
    """One probe per voice group (labels = voices within the group), trained on tr, scored on te → predicted voice
    index (over all voices) for every te clip."""
    pred = np.full(len(y), -1, dtype=np.int64)
    for g in np.unique(group):
        vs = np.unique(y[group == g])
        local = np.searchsorted(vs, y)  # voice index within the group (valid where group == g)
        mtr, mte = tr & (group == g), te & (group == g)
        _, _, _, p = train_probe(x[mtr], local[mtr], x[mte], local[mte])
        pred[mte] = vs[p]
    return pred[te]


def speaker_val(args, name):
    """The speaker task's validation form (module docstring): one probe per group of 16 training voices."""
    t0 = time.time()
    results = args.results or os.path.join(WORK, 'results-val-speaker.jsonl')
    feats, info, cached = features(args.model, name, args.threads, splits=SPEAKER_VAL_SPLITS, dtype=args.dtype)
    x = np.concatenate([feats[s] for s in SPEAKER_VAL_SPLITS])
    y, group, tr, te, _ = speaker_val_split()
    pred = grouped_probe(x, y, group, tr, te)
    acc = float((pred == y[te]).mean())
    pred_path = os.path.join(WORK, 'features', name, 'pred_speaker_val.npy')
    np.save(pred_path, pred.astype(np.int16))
    row = {
        'name': name, 'task': 'speaker', 'form': f'val-groups{len(np.unique(y)) // SPEAKER_VAL_GROUPS}',
        'model': os.path.relpath(os.path.abspath(args.model), ROOT), 'dtype': args.dtype, 'params': info['params'],
        'macs_per_second': info['macs_per_second'], 'n_voices': int(y.max()) + 1, 'groups': SPEAKER_VAL_GROUPS,
        'probe_acc': round(acc, 4), 'n_train': int(tr.sum()), 'n_test': int(te.sum()),
        'pred': os.path.relpath(pred_path, ROOT), 'seconds': round(time.time() - t0, 1), 'extracted': not cached,
    }
    os.makedirs(os.path.dirname(results), exist_ok=True)
    with open(results, 'a') as f:
        f.write(json.dumps(row) + '\n')
    print(json.dumps(row))


def speaker(args, name):
    if args.val:
        return speaker_val(args, name)
    t0 = time.time()
    ts = args.test_split
    results = args.results or os.path.join(WORK, 'results-speaker.jsonl' if ts == 'test' else f'results-speaker-{ts}.jsonl')
    feats, info, cached = features(args.model, name, args.threads, splits=(ts,), dtype=args.dtype)
    x = feats[ts]
    y, group, tr, te, _ = speaker_split(ts)
    if group.max() > 0:  # test_more: 4 groups of 20 voices
        pred = grouped_probe(x, y, group, tr, te)
        acc, acc_tr, wts, acc_last = float((pred == y[te]).mean()), None, [], None
    else:
        acc, acc_tr, wts, pred = train_probe(x[tr], y[tr], x[te], y[te])
        acc_last, _, _, _ = train_probe(x[tr], y[tr], x[te], y[te], layers=[x.shape[1] - 1])
    pred_path = os.path.join(WORK, 'features', name, f'pred_speaker_{ts}.npy')
    np.save(pred_path, pred.astype(np.int16))
    row = {
        'name': name, 'task': 'speaker', 'model': os.path.relpath(os.path.abspath(args.model), ROOT), 'dtype': args.dtype,
        'params': info['params'], 'macs_per_second': info['macs_per_second'], 'n_voices': int(y.max()) + 1,
        'groups': int(group.max()) + 1, 'probe_acc': round(acc, 4),
        'probe_acc_last_layer': None if acc_last is None else round(acc_last, 4),
        'probe_train_acc': None if acc_tr is None else round(acc_tr, 4),
        'layer_weights': [round(float(v), 3) for v in wts], 'n_train': int(tr.sum()), 'n_test': int(te.sum()),
        'pred': os.path.relpath(pred_path, ROOT), 'seconds': round(time.time() - t0, 1), 'extracted': not cached,
    }
    os.makedirs(os.path.dirname(results), exist_ok=True)
    with open(results, 'a') as f:
        f.write(json.dumps(row) + '\n')
    print(json.dumps(row))


def q8_vs_f32(args, name, pred, ts):
    """q8 − f32 probe accuracy of the same model, paired, with report.py's voice cluster bootstrap 95% interval; None
    until the f32 row (the name without -q8, or --f32-name) has been probed on this split."""
    from report import voice_boots
    f32_name = args.f32_name or (name[:-3] if name.endswith('-q8') else name)
    p = os.path.join(WORK, 'features', f32_name, f'pred_{ts}.npy')
    if not os.path.exists(p):
        print(f'(no {p}: probe the f32 model first for the paired q8 − f32 difference)', file=sys.stderr)
        return None
    clips = json.load(open(os.path.join(DATA, f'{ts}.json')))['clips']
    y = np.array([c['label'] for c in clips])
    d = (pred == y).astype(np.float64) - (np.load(p) == y).astype(np.float64)
    boots, _ = voice_boots(clips, 0)
    lo, hi = np.percentile([d[b].mean() for b in boots], [2.5, 97.5])
    print(f'{name} − {f32_name} = {100 * d.mean():+.1f} points (95% CI {100 * lo:+.1f} to {100 * hi:+.1f})', file=sys.stderr)
    return {'f32_name': f32_name, 'diff': round(float(d.mean()), 4), 'ci95': [round(float(lo), 4), round(float(hi), 4)]}


if __name__ == '__main__':
    sys.exit(main())
