#!/usr/bin/python3
"""Train the evaluation's teacher: a small wav2vec2-shaped model, supervised on espeak-ng word recognition.

The model is torchaudio's wav2vec2_model (group-norm conv extractor, post-LN encoder); a linear classifier on the
mean-pooled last hidden state is trained with it (cross-entropy, AdamW, on-line augmentation) on the TRAIN voices
only, so that the hidden states carry word information. The classifier head is not part of the saved model.

Writes (eval/work/, ignored by git):
  teacher/config.json + teacher/model.safetensors   slimwav's format, Hugging Face tensor names
  teacher_head.pt                                    the classifier (for the record)
  teacher_ckpt.pt                                    training checkpoint (resumable)
and eval/teacher.json (small, committed): config, params, steps, wall time, accuracies.

Then checks that slimwav runs the saved model like torch does (`--check` alone repeats only that):
every hidden state of `node bin/slimwav.js features … --layers all` within 1e-4·max(1, max|ref|), the project's
tolerance.

Usage: /usr/bin/python3 eval/train_teacher.py [--steps 3000] [--batch 16] [--layers 4] [--check] [--random-init DIR]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'scripts'))
import make_fixtures as mf  # noqa: E402  (HF-name mapping, safetensors writer, torchaudio builder, stage runner)

torch.backends.mkldnn.enabled = False  # this CPU's mkldnn conv1d backward returns wrong gradients (the forward is fine)

WORK = os.path.join(HERE, 'work')
DATA = os.path.join(WORK, 'data')
OUT = os.path.join(WORK, 'teacher')  # the default teacher (4 layers, post-LN); any other → work/teacher-L<N>[-post]/
TAG = ''  # '', '-L<N>' (pre-LN) or '-L<N>-post': suffix of the folder, the checkpoint, the head and the summary
SR = 16000

CONFIG = mf.base_config('wav2vec2', [64, 128, 128, 128, 128], [10, 5, 4, 3, 2], [5, 4, 4, 2, 2], False, 'group',
                        256, 4, 4, 768, 64, 16, False, 0)
del CONFIG['slimwav_init_seed']  # trained weights, not hash-initialised ones
CONFIG['slimwav_note'] = 'slimwav eval teacher: espeak-ng word recognition (eval/train_teacher.py)'


def set_depth(layers: int, pre_ln: bool):
    """Same teacher with another number of encoder layers (and optionally pre-LN: LayerNorm first in every block,
    as wav2vec2-large and WavLM), written beside the default one, never over it."""
    global OUT, TAG
    CONFIG['num_hidden_layers'] = layers
    CONFIG['do_stable_layer_norm'] = pre_ln
    TAG = '' if (layers, pre_ln) == (4, False) else f'-L{layers}' + ('' if pre_ln else '-post')
    OUT = os.path.join(WORK, 'teacher' + TAG)


def build_train_model(cfg):
    return torchaudio.models.wav2vec2_model(
        extractor_mode='group_norm', extractor_conv_layer_config=list(zip(cfg['conv_dim'], cfg['conv_kernel'],
                                                                          cfg['conv_stride'])),
        extractor_conv_bias=cfg['conv_bias'], encoder_embed_dim=cfg['hidden_size'], encoder_projection_dropout=0.05,
        encoder_pos_conv_kernel=cfg['num_conv_pos_embeddings'],
        encoder_pos_conv_groups=cfg['num_conv_pos_embedding_groups'], encoder_num_layers=cfg['num_hidden_layers'],
        encoder_num_heads=cfg['num_attention_heads'], encoder_attention_dropout=0.05,
        encoder_ff_interm_features=cfg['intermediate_size'], encoder_ff_interm_dropout=0.05, encoder_dropout=0.05,
        encoder_layer_norm_first=cfg['do_stable_layer_norm'], encoder_layer_drop=0.0, aux_num_out=None)


def ta_to_hf(name: str) -> str:
    if name.startswith('feature_extractor.'):
        return name
    if name.startswith('encoder.feature_projection.'):
        return name[len('encoder.'):]
    if name.startswith('encoder.transformer.'):
        return 'encoder.' + name[len('encoder.transformer.'):]
    raise ValueError(name)


def hf_weights(model) -> dict:
    shapes = mf.hf_param_shapes(CONFIG)
    out = {ta_to_hf(n): p.detach().numpy().astype(np.float32).copy() for n, p in model.named_parameters()}
    assert set(out) == set(shapes), sorted(set(out) ^ set(shapes))
    for n, a in out.items():
        assert list(a.shape) == shapes[n], (n, a.shape, shapes[n])
        assert mf.hf_to_torchaudio(n) in dict(model.named_parameters()), n
    return out


def load_split(name):
    x = np.load(os.path.join(DATA, f'{name}.npy'), mmap_mode='r')
    meta = json.load(open(os.path.join(DATA, f'{name}.json')))
    y = np.array([c['label'] for c in meta['clips']], dtype=np.int64)
    return x, y, meta


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """x [B, T] float: random extra shift (zero fill), gain ±6 dB, extra white/brown noise, short dropouts."""
    B, T = x.shape
    out = torch.zeros_like(x)
    shifts = torch.randint(-1600, 1601, (B,), generator=g)
    for b in range(B):
        s = int(shifts[b])
        if s >= 0:
            out[b, s:] = x[b, :T - s]
        else:
            out[b, :T + s] = x[b, -s:]
    out *= (10 ** (torch.empty(B, 1).uniform_(-6, 6, generator=g) / 20))
    noisy = torch.rand(B, generator=g) < 0.3
    snr = torch.empty(B).uniform_(5, 30, generator=g)
    n = torch.randn(B, T, generator=g)
    brown = torch.rand(B, generator=g) < 0.5
    nb = torch.cumsum(n, 1)
    nb = nb - nb.mean(1, keepdim=True)
    n = torch.where(brown[:, None], nb / (nb.std(1, keepdim=True) + 1e-8), n)
    p = out.pow(2).mean(1) + 1e-8
    out = out + noisy[:, None] * n * torch.sqrt(p / 10 ** (snr / 10))[:, None]
    for b in range(B):
        if float(torch.rand(1, generator=g)) < 0.2:
            s = int(torch.randint(0, T - 1600, (1,), generator=g))
            out[b, s:s + int(torch.randint(400, 1600, (1,), generator=g))] = 0
    return out


@torch.no_grad()
def evaluate(model, head, x, y, bs=64):
    model.eval()
    head.eval()
    correct = 0
    for i in range(0, len(y), bs):
        xb = torch.from_numpy(np.asarray(x[i:i + bs], dtype=np.float32) / 32768)
        h, _ = model(xb)
        correct += int((head(h.mean(1)).argmax(1) == torch.from_numpy(y[i:i + bs])).sum())
    model.train()
    head.train()
    return correct / len(y)


def train(args):
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    xtr, ytr, meta = load_split('train')
    xte, yte, _ = load_split('test')
    xtr = np.asarray(xtr)
    model = build_train_model(CONFIG)
    head = torch.nn.Linear(CONFIG['hidden_size'], len(meta['words']))
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    warm = max(1, args.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    g = torch.Generator().manual_seed(1)
    rng = np.random.default_rng(2)
    step, wall, log = 0, 0.0, []
    perm, pos, run_loss, run_acc = None, 0, 0.0, 0.0
    ckpt = os.path.join(WORK, f'teacher{TAG}_ckpt.pt')
    if os.path.exists(ckpt) and not args.fresh:
        st = torch.load(ckpt)
        model.load_state_dict(st['model']); head.load_state_dict(st['head'])
        opt.load_state_dict(st['opt']); sched.load_state_dict(st['sched'])
        g.set_state(st['g']); rng.bit_generator.state = st['rng']
        step, wall, log = st['step'], st['wall'], st['log']
        if 'perm' in st:  # checkpoints from before 2026-12-05 lack these: such a resume starts a new epoch
            torch.set_rng_state(st['torch_rng'])  # dropout
            perm, pos, run_loss, run_acc = st['perm'].numpy(), st['pos'], st['run_loss'], st['run_acc']
        print(f'resumed at step {step}', flush=True)
    model.train()
    t0 = time.time() - wall
    while step < args.steps:
        if perm is None or pos + args.batch > len(perm):
            perm = rng.permutation(len(ytr))
            pos = 0
        idx = np.sort(perm[pos:pos + args.batch])
        pos += args.batch
        xb = augment(torch.from_numpy(xtr[idx].astype(np.float32) / 32768), g)
        yb = torch.from_numpy(ytr[idx])
        h, _ = model(xb)
        logits = head(h.mean(1))
        loss = torch.nn.functional.cross_entropy(logits, yb, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        step += 1
        run_loss = 0.98 * run_loss + 0.02 * float(loss) if step > 1 else float(loss)
        run_acc = 0.98 * run_acc + 0.02 * float((logits.argmax(1) == yb).float().mean())
        if step % 50 == 0:
            el = time.time() - t0
            print(f'step {step}/{args.steps} loss {run_loss:.3f} acc {run_acc:.3f} lr {sched.get_last_lr()[0]:.2e} '
                  f'{el:.0f}s ETA {el / step * (args.steps - step):.0f}s', flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            acc = evaluate(model, head, xte, yte)
            log.append({'step': step, 'train_acc_ema': round(run_acc, 4), 'heldout_acc': round(acc, 4),
                        'seconds': round(time.time() - t0, 1)})
            print(f'  held-out voices: accuracy {acc:.4f}', flush=True)
            torch.save({'model': model.state_dict(), 'head': head.state_dict(), 'opt': opt.state_dict(),
                        'sched': sched.state_dict(), 'g': g.get_state(), 'rng': rng.bit_generator.state,
                        'torch_rng': torch.get_rng_state(), 'perm': torch.from_numpy(perm), 'pos': pos,
                        'run_loss': run_loss, 'run_acc': run_acc, 'step': step, 'wall': time.time() - t0, 'log': log}, ckpt + '.tmp')
            os.replace(ckpt + '.tmp', ckpt)
    wall = time.time() - t0
    model.eval()
    weights = hf_weights(model)
    mf.write_json(os.path.join(OUT, 'config.json'), CONFIG)
    mf.write_file(os.path.join(OUT, 'model.safetensors'), mf.safetensors_bytes(list(weights.items()),
                                                                                {'format': 'pt'}))
    torch.save(head.state_dict(), os.path.join(WORK, f'teacher{TAG}_head.pt'))
    # the head on the saved weights, rebuilt without dropout, on held-out voices
    ref = mf.build_model(CONFIG, weights)
    test_acc = evaluate(ref, head, xte, yte)
    n_params = sum(a.size for a in weights.values())
    summary = {'config': CONFIG, 'params_torch': int(n_params), 'steps': args.steps, 'batch': args.batch,
               'lr': args.lr, 'train_clips': int(len(ytr)), 'train_wall_seconds': round(wall, 1),
               'threads': args.threads, 'heldout_classifier_accuracy': round(test_acc, 4), 'log': log}
    with open(os.path.join(HERE, f'teacher{TAG}.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    print(f'teacher: {n_params} params, {wall / 60:.1f} min; classifier accuracy on held-out voices {test_acc:.4f}')


def check():
    """slimwav's features == torch's hidden states (all layers) on two test clips."""
    from_st = read_safetensors(os.path.join(OUT, 'model.safetensors'))
    cfg = json.load(open(os.path.join(OUT, 'config.json')))
    model = mf.build_model(cfg, from_st)
    xte, _, _ = load_split('test')
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for i in (0, len(xte) - 1):
            pcm = np.asarray(xte[i])
            wav = os.path.join(tmp, f'c{i}.wav')
            mf.write_file(wav, mf.wav_s16_bytes(pcm, SR))
            npy = os.path.join(tmp, f'c{i}.npy')
            subprocess.run(['node', os.path.join(ROOT, 'bin', 'slimwav.js'), 'features', OUT, wav, '--out', npy,
                            '--layers', 'all'], check=True)
            got = np.load(npy)
            r = mf.run_stages(model, cfg, (pcm.astype(np.float64) / 32768).astype(np.float32))
            want = np.stack(r['hidden'])
            assert got.shape == want.shape, (got.shape, want.shape)
            # the project's tolerance, per hidden state: max|diff| ≤ 1e-4·max(1, max|ref|). (Element by element it
            # would be too strict for a pre-LN stack, whose residual stream grows to |x| ~ 50: f32 rounding of
            # that sum alone is ~1e-5 absolute on elements near 0.)
            err = max(float(np.abs(g - w).max()) / max(1.0, float(np.abs(w).max())) for g, w in zip(got, want))
            elem = float((np.abs(got - want) / np.maximum(1.0, np.abs(want))).max())
            worst = max(worst, err)
            print(f'clip {i}: slimwav {got.shape} vs torch, max|diff|/max(1, max|ref|) = {err:.2e} '
                  f'(element by element {elem:.2e})')
    assert worst <= 1e-4, f'slimwav differs from torch by {worst}'
    print('slimwav matches torch within 1e-4·max(1, max|ref|) on every hidden state')
    return worst


def read_safetensors(path):
    import struct
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    hdr = json.loads(b[8:8 + n])
    out = {}
    for k, v in hdr.items():
        if k == '__metadata__':
            continue
        assert v['dtype'] == 'F32', (k, v['dtype'])
        s, e = v['data_offsets']
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype='<f4').reshape(v['shape']).copy()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--steps', type=int, default=3000)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--lr', type=float, default=7e-4)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--eval-every', type=int, default=500)
    ap.add_argument('--layers', type=int, default=4,
                    help='encoder layers (default 4); any teacher but the default goes to work/teacher-L<N>[-post]/ and '
                    'eval/teacher-L<N>[-post].json (-post: without --pre-ln)')
    ap.add_argument('--pre-ln', action='store_true',
                    help='LayerNorm first in each block (do_stable_layer_norm): a post-LN stack of 12 layers stays '
                    'at chance for 500+ steps with this recipe, a pre-LN one trains')
    ap.add_argument('--fresh', action='store_true', help='ignore an existing checkpoint')
    ap.add_argument('--check', action='store_true', help='only compare slimwav with torch on the saved teacher')
    ap.add_argument('--random-init', metavar='DIR', help='only write an untrained (hash-initialised) twin of the '
                    "teacher's architecture to DIR: the probe's floor")
    args = ap.parse_args()
    set_depth(args.layers, args.pre_ln)
    if args.random_init:
        cfg = dict(CONFIG, slimwav_init_seed=5, slimwav_note='untrained twin of the eval teacher (hash init)')
        mf.write_json(os.path.join(args.random_init, 'config.json'), cfg)
        mf.write_file(os.path.join(args.random_init, 'model.safetensors'),
                      mf.safetensors_bytes(list(mf.make_weights(cfg).items()), {'format': 'pt'}))
        return
    if not args.check:
        train(args)
    worst = check()
    p = os.path.join(HERE, f'teacher{TAG}.json')
    if os.path.exists(p):
        s = json.load(open(p))
        s['slimwav_vs_torch_max_rel_err'] = float(f'{worst:.3g}')
        json.dump(s, open(p, 'w'), indent=1)


if __name__ == '__main__':
    sys.exit(main())
