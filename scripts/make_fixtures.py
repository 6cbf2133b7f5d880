#!/usr/bin/python3
"""Reference-fixture generator for slimwav.

Builds small random-initialised wav2vec2 / HuBERT models with torchaudio, runs them stage by stage and writes the
model folders plus reference activations under test/fixtures/, so that `npm test` needs Node alone.

Usage:  /usr/bin/python3 scripts/make_fixtures.py [--only NAME[,NAME…]] [--out test/fixtures]
        NAME ∈ audio, tiny-w2v-group, tiny-hubert-layer-preln, tiny-w2v-layer-postln, base-w2v
Needs Debian's python3-torch 1.13 / python3-torchaudio 0.13 / numpy and espeak-ng (run with /usr/bin/python3).
Re-running gives byte-identical files.

=====================================================================================================================
Deterministic weights — the ONLY source of weights (bit-identical with src/arch/random-init.ts)
=====================================================================================================================
Value i (flat C-order index) of the tensor with Hugging Face name `name` under model seed S ("slimwav_init_seed"):
    seed = fnv1a32(utf8(name)) ^ S
    x    = seed ^ (i * 0x9E3779B9 mod 2^32)
    x ^= x >> 16;  x = x * 0x85EBCA6B mod 2^32;  x ^= x >> 13;  x = x * 0xC2B2AE35 mod 2^32;  x ^= x >> 16
    u    = (x >> 8) / 2^24                                   in [0, 1)
    v    = float32(offset + (2u - 1) * scale)                computed in float64, rounded once to float32
(scale, offset) by HF tensor name and shape, first matching rule wins:
    1. encoder.pos_conv_embed.conv.weight_g  (shape [1, 1, K])  scale 0.5,                     offset 1.0
    2. encoder.pos_conv_embed.conv.weight_v  (shape [D, D/G, K]) scale 1/sqrt(fan_in),         offset 0
    3. *.bias (any)                                              scale 0.1,                     offset 0
    4. *.weight with ndim >= 2 (conv / linear)                   scale 1/sqrt(fan_in),         offset 0
    5. *.weight with ndim == 1 (LayerNorm / GroupNorm affine)    scale 0.2,                     offset 1.0
where fan_in = numel / shape[0] and scale = 1 / Math.sqrt(fan_in) in float64.
Shapes follow the HF layout (Linear [out, in]; Conv1d [out, in/groups, k]); the positional conv's effective weight
is g[k] · v[:, :, k] / ||v[:, :, k]||_F (norm over dims 0 and 1 for each tap k, torch weight_norm dim=2).
Tensors present (HF names): feature_extractor.conv_layers.{i}.conv.weight [C_i, C_{i-1}, k_i] (C_{-1} = 1),
.conv.bias [C_i] if conv_bias; .layer_norm.{weight,bias} [C_i] on layer 0 only (GroupNorm(C_0, C_0)) for
feat_extract_norm 'group', on every layer (LayerNorm over channels) for 'layer'; feature_projection.layer_norm.*
[C_last], feature_projection.projection.{weight [D, C_last], bias [D]}; encoder.pos_conv_embed.conv.{weight_g,
weight_v, bias [D]}; encoder.layer_norm.* [D]; encoder.layers.{l}.attention.{q,k,v,out}_proj.{weight [D, D],
bias [D]}, .layer_norm.*, .feed_forward.intermediate_dense.{weight [F, D], bias [F]},
.feed_forward.output_dense.{weight [D, F], bias [D]}, .final_layer_norm.* [D].

=====================================================================================================================
Clips (all float32, 16 kHz; t = n / 16000; u_name(n) = hash value n with seed fnv1a32(utf8(name)) ^ 0)
=====================================================================================================================
    sine   (9600 samples)  : f32(0.5 sin(2π·220 t) + 0.3 sin(2π·550 t + 0.7) + 0.15 sin(2π·1900 t + 1.3)
                                 + 0.02 (2 u_clip.sine(n) − 1))                     (sums in float64, one rounding)
    noise  (9600 samples)  : f32(0.5 (2 u_clip.noise(n) − 1))       (= hashFill('clip.noise', seed 0, scale 0.5))
    speech (16000 samples) : espeak-ng -v en-us -s 150 "slim models run fast" (22050 Hz, s16), /32768,
                             torchaudio.functional.resample(22050 → 16000) in float32, start 1600 samples before
                             the first |x| > 0.02·max|x|, 16000 samples (zero padded), scaled to peak 0.9,
                             quantised to s16 (round(x·32768)) and back (/32768) so that the 16-bit WAV, the float WAV
                             and `input.speech` hold exactly the same values.
    digest (16000 samples) : the `sine` formula over 16000 samples with u_clip.digest instead of u_clip.sine.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
import wave

import numpy as np
import torch
import torchaudio

SR = 16000
MAX_FILE = 1_000_000  # bytes; ref.safetensors above this keeps conv stages for `speech` only
HARD_MAX_FILE = 1_048_576
SPEECH_TEXT = 'slim models run fast'

# ------------------------------------------------------------------------------------------------- hash init


def fnv1a32(s: str) -> int:
    h = 0x811C9DC5
    for b in s.encode('utf-8'):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def hash_uniform(seed: int, idx: np.ndarray) -> np.ndarray:
    """u ∈ [0,1) as float64 for indices `idx` (uint32 array); uint32 arithmetic wraps mod 2^32."""
    with np.errstate(over='ignore'):
        x = np.asarray(idx, dtype=np.uint32) * np.uint32(0x9E3779B9)
        x ^= np.uint32(seed & 0xFFFFFFFF)
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x85EBCA6B)
        x ^= x >> np.uint32(13)
        x *= np.uint32(0xC2B2AE35)
        x ^= x >> np.uint32(16)
    return (x >> np.uint32(8)).astype(np.float64) / 16777216.0


def hash_fill(name: str, model_seed: int, shape, scale: float, offset: float = 0.0) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    seed = fnv1a32(name) ^ (model_seed & 0xFFFFFFFF)
    out = np.empty(n, dtype=np.float32)
    chunk = 1 << 22
    for s in range(0, n, chunk):
        u = hash_uniform(seed, np.arange(s, min(n, s + chunk), dtype=np.uint32))
        out[s:s + len(u)] = (offset + (2.0 * u - 1.0) * scale).astype(np.float32)
    return out.reshape(shape)


def init_rule(name: str, shape) -> tuple:
    """(scale, offset) for HF tensor `name` of `shape` — see the comment block at the top."""
    if name.endswith('pos_conv_embed.conv.weight_g'):
        return 0.5, 1.0
    if name.endswith('pos_conv_embed.conv.weight_v'):
        return 1.0 / math.sqrt(int(np.prod(shape)) // shape[0]), 0.0
    if name.endswith('.bias'):
        return 0.1, 0.0
    if name.endswith('.weight') and len(shape) >= 2:
        return 1.0 / math.sqrt(int(np.prod(shape)) // shape[0]), 0.0
    if name.endswith('.weight') and len(shape) == 1:
        return 0.2, 1.0
    raise ValueError(f'no init rule for {name} {shape}')


def self_test_hash():
    assert fnv1a32('encoder.layers.0.attention.q_proj.weight') == 1380517294
    v = hash_fill('encoder.layers.0.attention.q_proj.weight', 1234, [4], 0.125, 0.0)
    exp = [0.0823597759, 0.0651914477, 0.0629072785, -0.0925771594]
    assert all(abs(float(a) - b) < 5e-10 for a, b in zip(v, exp)), v
    v = hash_fill('x', 0, [3], 1.0, 1.0)
    exp = [0.370024443, 0.299648762, 0.556245089]
    assert all(abs(float(a) - b) < 5e-9 for a, b in zip(v, exp)), v
    assert hash_uniform(0, np.array([4000000000], dtype=np.uint32))[0] == 0.25332939624786377


# ------------------------------------------------------------------------------------------------- model spec


def hf_param_shapes(cfg: dict) -> dict:
    """HF tensor name → shape, derived from config alone (what the TS side regenerates)."""
    shapes = {}
    cin = 1
    group = cfg['feat_extract_norm'] == 'group'
    for i, (c, k) in enumerate(zip(cfg['conv_dim'], cfg['conv_kernel'])):
        p = f'feature_extractor.conv_layers.{i}.'
        shapes[p + 'conv.weight'] = [c, cin, k]
        if cfg['conv_bias']:
            shapes[p + 'conv.bias'] = [c]
        if (group and i == 0) or not group:
            shapes[p + 'layer_norm.weight'] = [c]
            shapes[p + 'layer_norm.bias'] = [c]
        cin = c
    d, f = cfg['hidden_size'], cfg['intermediate_size']
    shapes['feature_projection.layer_norm.weight'] = [cin]
    shapes['feature_projection.layer_norm.bias'] = [cin]
    shapes['feature_projection.projection.weight'] = [d, cin]
    shapes['feature_projection.projection.bias'] = [d]
    k, g = cfg['num_conv_pos_embeddings'], cfg['num_conv_pos_embedding_groups']
    shapes['encoder.pos_conv_embed.conv.weight_g'] = [1, 1, k]
    shapes['encoder.pos_conv_embed.conv.weight_v'] = [d, d // g, k]
    shapes['encoder.pos_conv_embed.conv.bias'] = [d]
    shapes['encoder.layer_norm.weight'] = [d]
    shapes['encoder.layer_norm.bias'] = [d]
    for l in range(cfg['num_hidden_layers']):
        p = f'encoder.layers.{l}.'
        for proj in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
            shapes[p + f'attention.{proj}.weight'] = [d, d]
            shapes[p + f'attention.{proj}.bias'] = [d]
        shapes[p + 'layer_norm.weight'] = [d]
        shapes[p + 'layer_norm.bias'] = [d]
        shapes[p + 'feed_forward.intermediate_dense.weight'] = [f, d]
        shapes[p + 'feed_forward.intermediate_dense.bias'] = [f]
        shapes[p + 'feed_forward.output_dense.weight'] = [d, f]
        shapes[p + 'feed_forward.output_dense.bias'] = [d]
        shapes[p + 'final_layer_norm.weight'] = [d]
        shapes[p + 'final_layer_norm.bias'] = [d]
    return shapes


def make_weights(cfg: dict) -> dict:
    seed = cfg['slimwav_init_seed']
    out = {}
    for name, shape in hf_param_shapes(cfg).items():
        scale, offset = init_rule(name, shape)
        out[name] = hash_fill(name, seed, shape, scale, offset)
    return out


def hf_to_torchaudio(name: str) -> str:
    if name.startswith('feature_extractor.'):
        return name
    if name.startswith('feature_projection.'):
        return 'encoder.' + name
    if name.startswith('encoder.'):
        return 'encoder.transformer.' + name[len('encoder.'):]
    raise ValueError(name)


def build_model(cfg: dict, weights: dict):
    model = torchaudio.models.wav2vec2_model(
        extractor_mode='group_norm' if cfg['feat_extract_norm'] == 'group' else 'layer_norm',
        extractor_conv_layer_config=list(zip(cfg['conv_dim'], cfg['conv_kernel'], cfg['conv_stride'])),
        extractor_conv_bias=cfg['conv_bias'],
        encoder_embed_dim=cfg['hidden_size'],
        encoder_projection_dropout=0.0,
        encoder_pos_conv_kernel=cfg['num_conv_pos_embeddings'],
        encoder_pos_conv_groups=cfg['num_conv_pos_embedding_groups'],
        encoder_num_layers=cfg['num_hidden_layers'],
        encoder_num_heads=cfg['num_attention_heads'],
        encoder_attention_dropout=0.0,
        encoder_ff_interm_features=cfg['intermediate_size'],
        encoder_ff_interm_dropout=0.0,
        encoder_dropout=0.0,
        encoder_layer_norm_first=cfg['do_stable_layer_norm'],
        encoder_layer_drop=0.0,
        aux_num_out=None,
    )
    model.eval()
    params = dict(model.named_parameters())
    assigned = set()
    with torch.no_grad():
        for hf_name, arr in weights.items():
            ta = hf_to_torchaudio(hf_name)
            assert ta in params, f'{hf_name} → {ta}: no such torchaudio parameter'
            assert ta not in assigned, f'{ta} assigned twice'
            p = params[ta]
            assert list(p.shape) == list(arr.shape), f'{hf_name}: torchaudio {list(p.shape)} vs HF {list(arr.shape)}'
            p.copy_(torch.from_numpy(arr))
            assigned.add(ta)
    left = sorted(set(params) - assigned)
    assert not left, f'torchaudio parameters never assigned: {left}'
    for name, buf in model.named_buffers():
        raise AssertionError(f'unexpected buffer {name}')
    return model


# ------------------------------------------------------------------------------------------------- reference run


def run_stages(model, cfg: dict, wav: np.ndarray) -> dict:
    """All reference stages for one clip, time-major, batch dim dropped (numpy float32)."""
    x = torch.from_numpy(wav.astype(np.float32))[None]
    out = {'conv': [], 'hidden': []}
    with torch.no_grad():
        h = x.unsqueeze(1)
        for layer in model.feature_extractor.conv_layers:
            h, _ = layer(h, None)
            out['conv'].append(h[0].transpose(0, 1).contiguous())
        feats = h.transpose(1, 2)
        enc = model.encoder
        tr = enc.transformer
        proj = enc.feature_projection(feats)
        pc = proj + tr.pos_conv_embed(proj)
        # torchaudio quirk: Transformer.layer_norm_first == (not encoder_layer_norm_first), i.e. True = post-LN
        post_ln = not cfg['do_stable_layer_norm']
        assert tr.layer_norm_first == post_ln
        hs = [tr.layer_norm(pc) if post_ln else pc]
        y = hs[0]
        for layer in tr.layers:
            y = layer(y, None)
            hs.append(y)
        if not post_ln:
            hs[-1] = tr.layer_norm(hs[-1])
        # cross-checks against torchaudio's own entry points
        ta_layers, _ = model.extract_features(x)
        L = cfg['num_hidden_layers']
        assert len(ta_layers) == L
        n_cmp = L if post_ln else L - 1
        for i in range(n_cmp):
            err = (ta_layers[i] - hs[i + 1]).abs().max().item()
            assert err <= 1e-6, f'extract_features layer {i + 1} differs by {err}'
        full, _ = model(x)
        err = (full - hs[-1]).abs().max().item()
        assert err <= 1e-6, f'forward() differs from last hidden state by {err}'
        feats_ta, _ = model.feature_extractor(x, None)
        assert (feats_ta - feats).abs().max().item() == 0.0
    out['conv'] = [c.numpy() for c in out['conv']]
    out['proj'] = proj[0].numpy()
    out['posconv'] = pc[0].numpy()
    out['hidden'] = [t[0].numpy() for t in hs]
    return out


# ------------------------------------------------------------------------------------------------- file writers


def safetensors_bytes(tensors: list, metadata: dict) -> bytes:
    header = {'__metadata__': metadata}
    blobs = []
    off = 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        if arr.dtype == np.float32:
            dt, b = 'F32', arr.astype('<f4').tobytes()
        elif arr.dtype == np.float64:
            dt, b = 'F64', arr.astype('<f8').tobytes()
        else:
            raise TypeError(f'{name}: {arr.dtype}')
        assert name not in header, name
        header[name] = {'dtype': dt, 'shape': [int(s) for s in arr.shape], 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hj += b' ' * ((-len(hj)) % 8)
    return struct.pack('<Q', len(hj)) + hj + b''.join(blobs)


def write_file(path: str, data: bytes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def write_json(path: str, obj: dict):
    write_file(path, (json.dumps(obj, indent=2) + '\n').encode('utf-8'))


def wav_s16_bytes(samples_s16: np.ndarray, sr: int) -> bytes:
    data = samples_s16.astype('<i2').tobytes()
    fmt = struct.pack('<HHIIHH', 1, 1, sr, sr * 2, 2, 16)
    return (b'RIFF' + struct.pack('<I', 4 + 8 + len(fmt) + 8 + len(data)) + b'WAVE'
            + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'data' + struct.pack('<I', len(data)) + data)


def wav_f32_bytes(samples: np.ndarray, sr: int) -> bytes:
    """WAVE_FORMAT_IEEE_FLOAT (3), mono, 32-bit: 18-byte fmt (cbSize 0) + fact chunk, as the spec asks."""
    data = samples.astype('<f4').tobytes()
    fmt = struct.pack('<HHIIHHH', 3, 1, sr, sr * 4, 4, 32, 0)
    fact = struct.pack('<I', len(samples))
    body = (b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'fact' + struct.pack('<I', 4) + fact
            + b'data' + struct.pack('<I', len(data)) + data)
    return b'RIFF' + struct.pack('<I', len(body)) + body


# ------------------------------------------------------------------------------------------------- clips


def sine_clip(n: int, noise_name: str) -> np.ndarray:
    t = np.arange(n, dtype=np.float64) / SR
    u = hash_uniform(fnv1a32(noise_name), np.arange(n, dtype=np.uint32))
    x = (0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 550 * t + 0.7)
         + 0.15 * np.sin(2 * np.pi * 1900 * t + 1.3) + 0.02 * (2.0 * u - 1.0))
    return x.astype(np.float32)


DIGEST_INPUT_FORMULA = (
    'x[n] = f32(0.5*sin(2*pi*220*t) + 0.3*sin(2*pi*550*t + 0.7) + 0.15*sin(2*pi*1900*t + 1.3) + 0.02*(2*u(n) - 1)), '
    'n = 0..15999, t = n/16000, sums in float64 rounded once to float32, u(n) = hashUniform(fnv1a32("clip.digest"), n) '
    '(the weight-init hash, model seed not mixed in); the exact samples are stored as `input` in digest.safetensors')


def noise_clip(n: int) -> np.ndarray:
    return hash_fill('clip.noise', 0, [n], 0.5, 0.0)


def speech_clips(tmpdir: str):
    """(raw 22050 Hz s16 samples, 16 kHz f32 samples exactly representable as s16/32768)."""
    raw_path = os.path.join(tmpdir, 'espeak.wav')
    subprocess.run(['espeak-ng', '-v', 'en-us', '-s', '150', '-w', raw_path, SPEECH_TEXT], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with wave.open(raw_path, 'rb') as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, w.getparams()
        sr = w.getframerate()
        raw = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.int16)
    assert sr == 22050, sr
    x = torch.from_numpy((raw.astype(np.float64) / 32768.0).astype(np.float32))
    y = torchaudio.functional.resample(x, orig_freq=sr, new_freq=SR).numpy().astype(np.float64)
    onset = int(np.argmax(np.abs(y) > 0.02 * np.abs(y).max()))
    start = max(0, onset - 1600)
    seg = np.zeros(SR, dtype=np.float64)
    part = y[start:start + SR]
    seg[:len(part)] = part
    seg *= 0.9 / np.abs(seg).max()
    q = np.clip(np.round(seg * 32768.0), -32768, 32767).astype(np.int16)
    return raw, sr, q, (q.astype(np.float64) / 32768.0).astype(np.float32)


# ------------------------------------------------------------------------------------------------- configs


def base_config(model_type, conv_dim, conv_kernel, conv_stride, conv_bias, norm, hidden, layers, heads, interm,
                pos_k, pos_g, stable, seed, **extra):
    cfg = {
        'model_type': model_type,
        'conv_dim': conv_dim,
        'conv_kernel': conv_kernel,
        'conv_stride': conv_stride,
        'conv_bias': conv_bias,
        'num_feat_extract_layers': len(conv_dim),
        'feat_extract_norm': norm,
        'feat_extract_activation': 'gelu',
        'hidden_size': hidden,
        'num_hidden_layers': layers,
        'num_attention_heads': heads,
        'intermediate_size': interm,
        'hidden_act': 'gelu',
        'layer_norm_eps': 1e-5,
        'num_conv_pos_embeddings': pos_k,
        'num_conv_pos_embedding_groups': pos_g,
        'do_stable_layer_norm': stable,
        'slimwav_init_seed': seed,
    }
    cfg.update(extra)
    return cfg


TINY = {
    # conv channels deliberately ragged (not multiples of 4), kernel == stride on layer 1
    'tiny-w2v-group': base_config('wav2vec2', [18, 24, 40, 20, 30], [10, 3, 3, 2, 2], [5, 3, 2, 2, 2], False,
                                  'group', 48, 2, 4, 80, 16, 4, False, 11),
    'tiny-hubert-layer-preln': base_config('hubert', [20, 28, 24, 32], [10, 3, 3, 3], [5, 3, 3, 2], True,
                                           'layer', 40, 3, 5, 72, 7, 4, True, 22),
    'tiny-w2v-layer-postln': base_config('wav2vec2', [20, 28, 24], [10, 5, 4], [5, 4, 4], False,
                                         'layer', 36, 1, 3, 50, 8, 2, False, 33),
}

BASE = base_config('wav2vec2', [512] * 7, [10, 3, 3, 3, 3, 2, 2], [5, 2, 2, 2, 2, 2, 2], False, 'group',
                   768, 12, 12, 3072, 128, 16, False, 7, slimwav_digest_input=DIGEST_INPUT_FORMULA)

BASE_CHECKSUMS = ['encoder.layers.0.attention.q_proj.weight', 'encoder.pos_conv_embed.conv.weight_v',
                  'feature_extractor.conv_layers.0.conv.weight']


# ------------------------------------------------------------------------------------------------- fixtures


def model_tensors(weights: dict) -> list:
    return list(weights.items())


REF_NOTE = 'reference activations, torchaudio 0.13 float32, time-major'


def ref_bytes(name: str, clips: dict, results: dict, note: str = REF_NOTE) -> bytes:
    """ref.safetensors for `results` (clip → run_stages dict): input.<clip>, conv.<clip>.<i>, proj.<clip>,
    posconv.<clip>, hidden.<clip>.<i>. Conv stages of every clip, or of `speech` only if that exceeds MAX_FILE."""
    def build(conv_clips):
        t = []
        for clip, wav in clips.items():
            r = results[clip]
            t.append((f'input.{clip}', wav))
            if clip in conv_clips:
                for i, c in enumerate(r['conv']):
                    t.append((f'conv.{clip}.{i}', c))
            t.append((f'proj.{clip}', r['proj']))
            t.append((f'posconv.{clip}', r['posconv']))
            for i, h in enumerate(r['hidden']):
                t.append((f'hidden.{clip}.{i}', h))
        meta = {'format': 'pt', 'slimwav': note,
                'conv_clips': ','.join(c for c in clips if c in conv_clips)}
        return safetensors_bytes(t, meta)

    data = build(set(clips))
    if len(data) > MAX_FILE:
        data = build({'speech'})
    assert len(data) <= HARD_MAX_FILE, f'{name}/ref.safetensors is {len(data)} bytes'
    return data


def ref_maxima(results: dict) -> tuple:
    """(max|hidden|, max over every stored stage) over all clips."""
    maxref = max(float(np.abs(h).max()) for r in results.values() for h in r['hidden'])
    maxall = max(maxref, max(float(np.abs(t).max()) for r in results.values()
                             for t in r['conv'] + [r['proj'], r['posconv']]))
    return maxref, maxall


def make_tiny(name: str, cfg: dict, out_dir: str, clips: dict, summary: list):
    folder = os.path.join(out_dir, name)
    weights = make_weights(cfg)
    model = build_model(cfg, weights)
    write_json(os.path.join(folder, 'config.json'), cfg)
    write_file(os.path.join(folder, 'model.safetensors'), safetensors_bytes(model_tensors(weights), {'format': 'pt'}))
    results = {clip: run_stages(model, cfg, wav) for clip, wav in clips.items()}
    data = ref_bytes(name, clips, results)
    write_file(os.path.join(folder, 'ref.safetensors'), data)
    maxref, maxall = ref_maxima(results)
    summary.append((os.path.join(folder, 'ref.safetensors'), len(data), maxref, maxall))
    summary.append((os.path.join(folder, 'model.safetensors'),
                    os.path.getsize(os.path.join(folder, 'model.safetensors')), None, None))


def make_base(out_dir: str, summary: list):
    t0 = time.time()
    cfg = BASE
    folder = os.path.join(out_dir, 'base-w2v')
    weights = make_weights(cfg)
    t_w = time.time() - t0
    model = build_model(cfg, weights)
    wav = sine_clip(SR, 'clip.digest')
    t1 = time.time()
    r = run_stages(model, cfg, wav)
    t_f = time.time() - t1
    T = r['hidden'][0].shape[0]
    assert T == 49, T
    frames = [0, 24, 48]
    t = [('input', wav), ('frames', np.array(frames, dtype=np.float32))]
    for name in BASE_CHECKSUMS:
        w = weights[name].astype(np.float64).ravel()
        t.append((f'checksum.{name}', np.cumsum(w)[-1:].copy()))  # sequential float64 sum in index order
    for j, c in enumerate(r['conv']):
        tj = c.shape[0]
        fr = [0, tj // 2, tj - 1]
        t.append((f'conv.{j}.frames', np.array(fr, dtype=np.float32)))
        t.append((f'conv.{j}', c[fr]))
        t.append((f'absmax.conv.{j}', np.array([np.abs(c).max()], dtype=np.float32)))
    for key in ('proj', 'posconv'):
        t.append((key, r[key][frames]))
        t.append((f'absmax.{key}', np.array([np.abs(r[key]).max()], dtype=np.float32)))
    for i, h in enumerate(r['hidden']):
        t.append((f'hidden.{i}', h[frames]))
        t.append((f'absmax.hidden.{i}', np.array([np.abs(h).max()], dtype=np.float32)))
    meta = {'format': 'pt', 'slimwav': 'base-w2v digest: rows at `frames` of each stage, absmax over all frames, '
            'checksum = sequential float64 sum (index order) of the float32 weights'}
    data = safetensors_bytes(t, meta)
    write_json(os.path.join(folder, 'config.json'), cfg)
    write_file(os.path.join(folder, 'digest.safetensors'), data)
    write_file(os.path.join(folder, '.gitignore'), b'# regenerated by scripts/make_fixtures.py (380 MB), never committed\n'
               b'model.safetensors\n')
    write_file(os.path.join(folder, 'model.safetensors'), safetensors_bytes(model_tensors(weights), {'format': 'pt'}))
    wall = time.time() - t0
    maxref = max(float(np.abs(h).max()) for h in r['hidden'])
    summary.append((os.path.join(folder, 'digest.safetensors'), len(data), maxref, None))
    summary.append((os.path.join(folder, 'model.safetensors (ignored)'),
                    os.path.getsize(os.path.join(folder, 'model.safetensors')), None, None))
    print(f'base-w2v: {sum(w.size for w in weights.values())} params; weights {t_w:.1f}s, forward {t_f:.2f}s, '
          f'total wall {wall:.1f}s')


ALL = ['audio'] + list(TINY) + ['base-w2v']


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--only', action='append', help='fixture name(s), comma separated: ' + ', '.join(ALL))
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test',
                                                  'fixtures'))
    args = ap.parse_args()
    only = ALL if not args.only else [n for o in args.only for n in o.split(',') if n]
    for n in only:
        if n not in ALL:
            ap.error(f'unknown fixture {n!r}; known: {", ".join(ALL)}')
    out_dir = os.path.normpath(args.out)

    self_test_hash()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False

    t_start = time.time()
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        raw, raw_sr, speech_s16, speech = speech_clips(tmp)
    clips = {'sine': sine_clip(9600, 'clip.sine'), 'noise': noise_clip(9600), 'speech': speech}
    if 'audio' in only:
        adir = os.path.join(out_dir, 'audio')
        for fname, data in (('speech22k.wav', wav_s16_bytes(raw, raw_sr)),
                            ('speech16k.wav', wav_s16_bytes(speech_s16, SR)),
                            ('speech16k-f32.wav', wav_f32_bytes(speech, SR))):
            write_file(os.path.join(adir, fname), data)
            summary.append((os.path.join(adir, fname), len(data), None, None))
    for name, cfg in TINY.items():
        if name in only:
            make_tiny(name, cfg, out_dir, clips, summary)
    if 'base-w2v' in only:
        make_base(out_dir, summary)

    print(f'{"file":<62} {"bytes":>11}  {"max|hidden|":>11}  {"max|any ref|":>12}  sha256')
    for path, size, mh, ma in summary:
        real = path.replace(' (ignored)', '')
        digest = hashlib.sha256(open(real, 'rb').read()).hexdigest()[:12]
        print(f'{os.path.relpath(path):<62} {size:>11}  {"" if mh is None else f"{mh:.4g}":>11}  '
              f'{"" if ma is None else f"{ma:.4g}":>12}  {digest}')
    print(f'total wall time {time.time() - t_start:.1f}s')


if __name__ == '__main__':
    sys.exit(main())
