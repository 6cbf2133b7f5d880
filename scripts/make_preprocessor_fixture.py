#!/usr/bin/python3
"""Reference for do_normalize (preprocessor_config.json): test/fixtures/tiny-hubert-layer-preln/ref-normalized.safetensors.

The speech clip (test/fixtures/audio/speech16k.wav, 16-bit, 16 kHz) normalised exactly as transformers'
Wav2Vec2FeatureExtractor does with do_normalize=True (zero_mean_unit_var_norm, on the float32 waveform):
    x_n = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
then run through torchaudio with the weights of test/fixtures/tiny-hubert-layer-preln (a layer-norm conv stack with
conv bias, so that the model's output depends on the input's mean and scale; a group-norm stack without bias would
hide most of the difference). Stored: input.normalized [16000] and hidden.<i> [frames, hidden] for i = 0..L, F32.
The same model on the raw clip is its ref.safetensors (hidden.speech.<i>): do_normalize off. (Not named
ref.safetensors: the parity tests take every fixture folder's ref.safetensors as a model reference.)

Usage:  /usr/bin/python3 scripts/make_preprocessor_fixture.py [fixtures-dir]   (default test/fixtures)
Needs what scripts/make_fixtures.py needs (Debian's python3-torch, python3-torchaudio, numpy); reuses its weights,
model builder and reference runner. Re-running gives a byte-identical file.
"""
import json
import os
import sys
import wave

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

MODEL = 'tiny-hubert-layer-preln'


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures'
    with open(os.path.join(out, MODEL, 'config.json')) as f:
        cfg = json.load(f)
    model = mf.build_model(cfg, mf.make_weights(cfg))
    with wave.open(os.path.join(out, 'audio', 'speech16k.wav'), 'rb') as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), '<i2').astype(np.float32) / np.float32(32768)
    xn = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    assert xn.dtype == np.float32
    r = mf.run_stages(model, cfg, xn)
    tensors = [('input.normalized', xn)] + [(f'hidden.{i}', h) for i, h in enumerate(r['hidden'])]
    meta = {'format': 'pt', 'slimwav': f'do_normalize reference: {MODEL} on speech16k.wav normalised as '
                                       'transformers does, torchaudio 0.13 float32, time-major'}
    path = os.path.join(out, MODEL, 'ref-normalized.safetensors')
    data = mf.safetensors_bytes(tensors, meta)
    mf.write_file(path, data)
    print(f'{path}: {len(data)} bytes, mean {float(x.mean()):.6f}, std {float(x.std()):.6f}, '
          f'max|hidden| {max(float(np.abs(h).max()) for h in r["hidden"]):.3f}')


if __name__ == '__main__':
    main()
