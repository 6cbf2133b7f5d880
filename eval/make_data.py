#!/usr/bin/python3
"""Word-recognition data for slimwav's quality evaluation, spoken by Debian's espeak-ng.

30 words (digits + short commands) spoken by many espeak-ng voices: a voice is (language, variant), e.g. `de+m3`;
languages other than English read the English spelling with their own rules, which gives accents. The split is by
VOICE and stricter than that: held-out voices use languages AND variants that no training voice uses.

Every clip: random speed (-s) and pitch (-p), resampled 22050 → 16 kHz by sox, leading/trailing silence trimmed,
placed at a random offset in a 1 s window (time shift), random peak level (gain), then additive white/pink/brown
noise at 20/10/5 dB SNR (or none). All randomness comes from per-clip seeds (crc32 of the clip's name), so a
re-run writes identical files.

Outputs (eval/work/data/, ignored by git):
  train.npy        int16 [N, 16000]  teacher training clips (train voices)
  probe_train.npy  int16 [N, 16000]  new renditions of the train voices, to train the linear probes
  test.npy         int16 [N, 16000]  held-out voices, for every reported accuracy
  test_more.npy    int16 [N, 16000]  the other 80 voices of the held-out languages × variants (1 clip per word), a
                                     second, larger held-out set: more voices, narrower intervals (report.py --split)
  <split>.json     labels, voice, speed, pitch, snr, noise type per clip; the word list
  unlabeled/*.wav  16-bit 16 kHz word sequences (1-4 s) by train voices, no labels: the pruner's --data
  stats.json       counts and voices

Usage: /usr/bin/python3 eval/make_data.py [--out eval/work/data] [--workers 2] [--splits train,probe_train,…]
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time
import zlib
from multiprocessing import Pool

import numpy as np

SR = 16000
WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
         'yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go',
         'cat', 'dog', 'bird', 'tree', 'bed', 'house', 'happy', 'wow', 'learn', 'follow']
FILLERS = ['please', 'now', 'then', 'and', 'the', 'again', 'say', 'next']

TRAIN_LANGS = ['en-us', 'en-gb', 'en-gb-scotland', 'en-029', 'en-gb-x-gbclan', 'de', 'nl', 'es', 'it', 'pl', 'id',
               'fi']
TEST_LANGS = ['en-gb-x-rp', 'en-us-nyc', 'en-gb-x-gbcwmd', 'cs', 'ro']
TRAIN_VARIANTS = ['m1', 'm2', 'm3', 'm4', 'm5', 'f1', 'f2', 'f3', 'f4', 'Alex', 'Andy', 'Annie', 'antonio', 'aunty',
                  'belinda', 'benjamin', 'boris', 'caleb', 'david', 'ed', 'edward', 'gustave', 'iven', 'john',
                  'linda', 'max', 'michel', 'paul', 'quincy', 'rob', 'robert', 'steph', 'zac', 'grandpa', 'klatt',
                  'whisper', 'croak', 'norbert', 'travis']
TEST_VARIANTS = ['m6', 'm7', 'f5', 'Alicia', 'Andrea', 'adam', 'Denis', 'Henrique', 'Hugo', 'Jacky', 'Lee',
                 'Marco', 'Mike', 'pablo', 'steph2', 'anika', 'grandma', 'shelby', 'victor', 'klatt2']
N_TRAIN_VOICES, N_TEST_VOICES = 64, 20
REPS = {'train': 4, 'probe_train': 1, 'test': 2, 'test_more': 1}
SPLITS = ('train', 'probe_train', 'test', 'test_more', 'unlabeled')
N_UNLABELED = 600
SNRS = [None, 20.0, 10.0, 5.0]
NOISES = ['white', 'pink', 'brown']


def seed_of(s: str) -> int:
    return zlib.crc32(s.encode('utf-8'))


def pick_voices(langs, variants, n, tag):
    """n distinct (lang, variant) pairs; half the voices from the English accents."""
    rng = np.random.default_rng(seed_of('voices/' + tag))
    en = [l for l in langs if l.startswith('en')]
    other = [l for l in langs if not l.startswith('en')]
    out = set()
    while len(out) < n:
        pool = en if len(out) % 2 == 0 else other
        out.add((pool[rng.integers(len(pool))], variants[rng.integers(len(variants))]))
    return sorted(out)


def synth(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng → sox (22050 → 16000 Hz, float32)."""
    es = subprocess.Popen(['espeak-ng', '-v', voice, '-s', str(speed), '-p', str(pitch), '--stdout', text],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    raw = subprocess.run(['sox', '-t', 'wav', '-', '-t', 'raw', '-r', str(SR), '-e', 'floating-point', '-b', '32',
                          '-c', '1', '-'], stdin=es.stdout, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         check=True).stdout
    es.stdout.close()
    if es.wait() != 0:
        raise RuntimeError(f'espeak-ng failed for voice {voice!r}')
    return np.frombuffer(raw, dtype='<f4').astype(np.float64)


def trim(x: np.ndarray) -> np.ndarray:
    if len(x) == 0 or np.abs(x).max() == 0:
        return x
    on = np.nonzero(np.abs(x) > 0.01 * np.abs(x).max())[0]
    return x[max(0, on[0] - 160):on[-1] + 160]


def colored_noise(rng, n: int, kind: str) -> np.ndarray:
    w = rng.standard_normal(n)
    if kind == 'white':
        return w
    f = np.fft.rfftfreq(n, 1.0 / SR)
    f[0] = f[1]
    spec = np.fft.rfft(w) / (np.sqrt(f) if kind == 'pink' else f)
    y = np.fft.irfft(spec, n)
    return y / (y.std() + 1e-12)


def degrade(rng, x: np.ndarray, length: int | None):
    """time shift into a `length` window (None: keep length + 0.1-0.3 s padding), gain, noise."""
    x = trim(x)
    if length is None:
        length = len(x) + int(rng.integers(1600, 4800))
    if len(x) > length:  # very slow renditions: keep the middle
        s = (len(x) - length) // 2
        x = x[s:s + length]
    out = np.zeros(length)
    off = int(rng.integers(0, length - len(x) + 1))
    out[off:off + len(x)] = x
    peak = np.abs(out).max()
    level = 10 ** rng.uniform(-20 / 20, -1 / 20)
    if peak > 0:
        out *= level / peak
    snr = SNRS[rng.integers(len(SNRS))]
    kind = NOISES[rng.integers(len(NOISES))]
    if snr is not None:
        p_sig = np.mean(out[off:off + len(x)] ** 2) if len(x) else 1e-8
        out += colored_noise(rng, length, kind) * np.sqrt(p_sig / 10 ** (snr / 10))
    out = np.clip(out, -1.0, 32767 / 32768)
    return np.round(out * 32768).astype(np.int16), snr, (kind if snr is not None else None), off


def make_clip(spec):
    """spec = (split, voice, word_or_words, rep) → (int16 samples, meta)."""
    split, voice, text, rep = spec
    name = f'{split}/{voice}/{text}/{rep}'
    rng = np.random.default_rng(seed_of(name))
    speed = int(rng.integers(120, 221))
    pitch = int(rng.integers(15, 86))
    x = synth(text, voice, speed, pitch)
    pcm, snr, kind, off = degrade(rng, x, None if split == 'unlabeled' else SR)
    return pcm, {'voice': voice, 'text': text, 'speed': speed, 'pitch': pitch, 'snr': snr, 'noise': kind,
                 'offset': off}


def wav_bytes(pcm: np.ndarray) -> bytes:
    data = pcm.astype('<i2').tobytes()
    fmt = struct.pack('<HHIIHH', 1, 1, SR, SR * 2, 2, 16)
    return (b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(data)) + b'WAVE' + b'fmt '
            + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', len(data)) + data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), 'work', 'data'))
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--splits', default=','.join(SPLITS), help='which to (re)write; the others are left as they are')
    args = ap.parse_args()
    todo = args.splits.split(',')
    for s in todo:
        if s not in SPLITS:
            sys.exit(f'make_data: unknown split {s} (splits: {", ".join(SPLITS)})')
    t0 = time.time()
    assert not set(TRAIN_LANGS) & set(TEST_LANGS) and not set(TRAIN_VARIANTS) & set(TEST_VARIANTS)
    voices = {'train': [f'{l}+{v}' for l, v in pick_voices(TRAIN_LANGS, TRAIN_VARIANTS, N_TRAIN_VOICES, 'train')],
              'test': [f'{l}+{v}' for l, v in pick_voices(TEST_LANGS, TEST_VARIANTS, N_TEST_VOICES, 'test')]}
    voices['test_more'] = [f'{l}+{v}' for l in TEST_LANGS for v in TEST_VARIANTS if f'{l}+{v}' not in voices['test']]
    os.makedirs(os.path.join(args.out, 'unlabeled'), exist_ok=True)
    stats_p = os.path.join(args.out, 'stats.json')
    old = json.load(open(stats_p)) if os.path.exists(stats_p) else {}
    stats = {'words': WORDS, 'voices': voices, 'splits': old.get('splits', {})}
    with Pool(args.workers) as pool:
        for split in [s for s in SPLITS[:4] if s in todo]:
            vs = voices[split if split.startswith('test') else 'train']
            specs = [(split, v, w, r) for v in vs for w in WORDS for r in range(REPS[split])]
            res = pool.map(make_clip, specs, chunksize=16)
            pcm = np.stack([p for p, _ in res])
            meta = [dict(m, label=WORDS.index(m['text'])) for _, m in res]
            np.save(os.path.join(args.out, f'{split}.npy'), pcm)
            with open(os.path.join(args.out, f'{split}.json'), 'w') as f:
                json.dump({'words': WORDS, 'clips': meta}, f)
            stats['splits'][split] = {'clips': len(meta), 'voices': len(vs), 'reps_per_word': REPS[split],
                                      'seconds': len(meta)}
            print(f'{split}: {len(meta)} clips, {len(vs)} voices ({time.time() - t0:.0f}s)', flush=True)
        # unlabeled word sequences by the train voices, for the pruner
        if 'unlabeled' in todo:
            rng = np.random.default_rng(seed_of('unlabeled'))
            specs = []
            for i in range(N_UNLABELED):
                n = int(rng.integers(2, 6))
                words = [WORDS[j] if rng.random() < 0.8 else FILLERS[rng.integers(len(FILLERS))]
                         for j in rng.integers(0, len(WORDS), n)]
                specs.append(('unlabeled', voices['train'][rng.integers(len(voices['train']))], ' '.join(words), i))
            res = pool.map(make_clip, specs, chunksize=16)
            total = 0
            for i, (pcm, _) in enumerate(res):
                with open(os.path.join(args.out, 'unlabeled', f'u{i:04d}.wav'), 'wb') as f:
                    f.write(wav_bytes(pcm))
                total += len(pcm)
            stats['splits']['unlabeled'] = {'clips': len(res), 'voices': len(voices['train']),
                                            'seconds': round(total / SR, 1)}
            print(f'unlabeled: {len(res)} clips, {total / SR:.0f} s ({time.time() - t0:.0f}s)', flush=True)
    stats['wall_seconds'] = round(time.time() - t0, 1)
    with open(stats_p, 'w') as f:
        json.dump(stats, f, indent=1)
    print(json.dumps({k: v for k, v in stats['splits'].items()}))


if __name__ == '__main__':
    sys.exit(main())
