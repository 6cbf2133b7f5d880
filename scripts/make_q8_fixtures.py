#!/usr/bin/python3
"""q8 reference outputs: the int8 arithmetic of slimwav's q8 path, in torch, for small fixtures.

For each fixture (a folder under test/fixtures/ made by make_fixtures.py) this rebuilds the torchaudio model from the
same deterministic weights (make_fixtures.make_weights), then replaces every layer slimwav runs in int8 (feature
projection, q/k/v/out projections, both FFN layers, conv layers >= 1) by the same q8 arithmetic:
  weights  (src/arch/quant.ts): per output row, s = f32(max|w| / 127), q = round-half-away(w / s) in [-127, 127]
           (a conv weight [Cout][Cin][k] counts as [Cout][Cin*k]; zero rows: s = 1)
  inputs   (assembly/q8gemm.ts): per row (a frame; for a conv layer the window of k frames x Cin channels),
           L = min(2047, floor((2^31 - 1) / (127 * Kp))), Kp = K rounded up to even, amax = max|row|,
           inv = f32(L / amax), qa = round-half-even(f32(x * inv)) clamped to +-L, sa = f32(amax / L) (zero rows: 1)
  output   y = (qa . q) * sa * s + bias, the integer sum exact (float64)
The positional conv is int8 for storage only: its weight_v is quantized per output row like a weight above and
replaced by its dequantization f32(q * s) before the model is built; the conv itself (weight norm included) runs in
f32 as in the f32 reference.
Writes test/fixtures/<name>/ref-q8.safetensors: input.speech and hidden.speech.<i>, time-major float32.

Usage:  /usr/bin/python3 scripts/make_q8_fixtures.py [--only NAME[,NAME...]]      (python3-torch 1.13, torchaudio 0.13)
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
NAMES = ['tiny-w2v-group', 'tiny-hubert-layer-preln']


def read_safetensors(path: str) -> dict:
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == '__metadata__':
            continue
        assert t['dtype'] == 'F32', (name, t['dtype'])
        a, b = t['data_offsets']
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype='<f4').reshape(t['shape'])
    return out


def quantize_weight(w: np.ndarray):
    """(q float64 [rows][cols], s float64 [rows]) as src/arch/quant.ts quantizeRows."""
    w2 = w.reshape(w.shape[0], -1).astype(np.float32)
    m = np.abs(w2).max(axis=1)
    s = np.where(m > 0, (m / np.float32(127)).astype(np.float32), np.float32(1)).astype(np.float64)
    v = w2.astype(np.float64) / s[:, None]
    q = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), -127, 127)
    return q, s


def levels(K: int) -> int:
    kp = K + (K & 1)
    return 2047 if kp == 0 else min(2047, (2 ** 31 - 1) // (127 * kp))


def quantize_rows(x: torch.Tensor):
    """Rows (last dim) of a float32 tensor → (qa float64, sa float64 [...,1]) as q8_quantize_a."""
    L = levels(x.shape[-1])
    x32 = x.detach().to(torch.float32)
    amax = x32.abs().amax(dim=-1, keepdim=True)
    nz = amax > 0
    inv = torch.where(nz, torch.tensor(float(L), dtype=torch.float32) / torch.where(nz, amax, torch.ones_like(amax)),
                      torch.zeros_like(amax))
    qa = torch.clamp(torch.round(x32 * inv), -L, L).to(torch.float64)  # torch.round: half to even
    sa = torch.where(nz, amax / torch.tensor(float(L), dtype=torch.float32), torch.ones_like(amax)).to(torch.float64)
    return qa, sa


def q8_matmul(rows: torch.Tensor, q: np.ndarray, s: np.ndarray, bias) -> torch.Tensor:
    qa, sa = quantize_rows(rows)
    acc = qa @ torch.from_numpy(q).T  # exact integers in float64
    y = acc * sa * torch.from_numpy(s)
    if bias is not None:
        y = y + bias.detach().to(torch.float64)
    return y.to(torch.float32)


def make_linear(mod: torch.nn.Linear):
    q, s = quantize_weight(mod.weight.detach().numpy())
    mod.forward = lambda x: q8_matmul(x, q, s, mod.bias)


def make_conv(conv: torch.nn.Conv1d):
    w = conv.weight.detach().numpy()  # [Cout][Cin][k]
    cout, cin, k = w.shape
    q, s = quantize_weight(w)
    # time-major window order (tap j, then channel i), as the engine reads the activations
    q = q.reshape(cout, cin, k).transpose(0, 2, 1).reshape(cout, k * cin)
    stride = conv.stride[0]

    def forward(x):  # [B][Cin][T] → [B][Cout][T']
        win = x.unfold(2, k, stride)  # [B][Cin][T'][k]
        rows = win.permute(0, 2, 3, 1).reshape(x.shape[0], -1, k * cin)
        return q8_matmul(rows, q, s, conv.bias).transpose(1, 2)
    conv.forward = forward


def dequantized(w: np.ndarray) -> np.ndarray:
    """f32(q * s) per output row, as src/arch/quant.ts dequantizeRows (q * s is exact in float64, rounded once)."""
    q, s = quantize_weight(w)
    return (q * s[:, None]).astype(np.float32).reshape(w.shape)


def make_q8(name: str):
    folder = os.path.join(ROOT, 'test', 'fixtures', name)
    with open(os.path.join(folder, 'config.json')) as f:
        cfg = json.load(f)
    weights = mf.make_weights(cfg)
    pv = 'encoder.pos_conv_embed.conv.weight_v'
    weights[pv] = dequantized(weights[pv])
    model = mf.build_model(cfg, weights)
    for i, layer in enumerate(model.feature_extractor.conv_layers):
        if i >= 1:
            make_conv(layer.conv)
    enc = model.encoder
    make_linear(enc.feature_projection.projection)
    for layer in enc.transformer.layers:
        a = layer.attention
        for m in (a.q_proj, a.k_proj, a.v_proj, a.out_proj):
            make_linear(m)
        make_linear(layer.feed_forward.intermediate_dense)
        make_linear(layer.feed_forward.output_dense)
    wav = read_safetensors(os.path.join(folder, 'ref.safetensors'))['input.speech']
    hs = mf.run_stages(model, cfg, wav)['hidden']  # the stage runner of make_fixtures.py, over the q8 layers
    tensors = [('input.speech', wav)] + [(f'hidden.speech.{i}', t) for i, t in enumerate(hs)]
    data = mf.safetensors_bytes(tensors, {'format': 'pt', 'slimwav': 'q8 reference activations (scripts/make_q8_fixtures.py), torch float64 integer sums, time-major'})
    mf.write_file(os.path.join(folder, 'ref-q8.safetensors'), data)
    print(f'{name}/ref-q8.safetensors: {len(data)} bytes')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--only', default=','.join(NAMES))
    for name in ap.parse_args().only.split(','):
        make_q8(name)


if __name__ == '__main__':
    main()
