#!/usr/bin/python3
"""Ragged-layout and WavLM reference-fixture generator for slimwav.

Writes test/fixtures/ragged-{w2v,hubert}-{a,b,c}/, wavlm-dense/ and wavlm-ragged-{a,b,c}/ (config.json,
model.safetensors, ref.safetensors) from this project's own PyTorch implementation of the pruned layout
(docs/format.md, "Ragged (pruned) layouts") and of WavLM, after proving that implementation, every run, against references:

  P1  dense, own torch f32 == torchaudio 0.13 `wav2vec2_model` f32, every stage, for the three tiny configs of
      make_fixtures.py (post-LN group, pre-LN layer, post-LN layer)                          tol 1e-5·max(1,|ref|)
  P2  every ragged wav2vec2/HuBERT fixture, own ragged torch f32 == torchaudio on the *zero-padded dense
      embedding* of the same model (removed heads/widths/FFN units become zero rows/columns, an absent
      removed-block bias becomes a zero bias; this is exact in real arithmetic), every stage   tol 1e-5
  P3  WavLM path without its bias: a dense WavLM whose rel_attn_embed is zeroed == torchaudio wav2vec2 with the
      same remaining weights (the gate multiplies a zero bias), every stage                    tol 1e-5
  P4  torchaudio 0.13 has no WavLM (torchaudio.models lists no wavlm_model; checked at run time), so every
      fixture (WavLM included) is also computed by an independent float64 numpy implementation of the *dense*
      model applied to the zero-padded embedding. Own torch run in float64 == numpy f64       tol 1e-6
      (and the f32 fixture values are reported against it).  The numpy code is itself checked against
      torchaudio on the dense configs (f64 vs f32, tol 1e-4).

Usage:  /usr/bin/python3 scripts/make_ragged_fixtures.py [--only NAME[,NAME…]] [--out test/fixtures]
Needs Debian's python3-torch 1.13 / python3-torchaudio 0.13 / numpy. Re-running gives byte-identical files.

=====================================================================================================================
Weights: the hash init of make_fixtures.py, each tensor under ITS OWN (ragged) name and shape
=====================================================================================================================
Every tensor present is hashFill(name, slimwav_init_seed, shape, scale, offset) with the rule of make_fixtures.py
plus `*gru_rel_pos_const` → offset 1, scale 0.2 (after the `.bias` rule; same order as initRule in
src/arch/random-init.ts). Present tensors (= what src/arch/tensors.ts calls used and non-empty):
  * q_proj/k_proj.{weight [Σqk, D], bias [Σqk]} only if Σqk > 0; v_proj [Σv, D]; out_proj.{weight [D, Σv], bias}
  * a removed attention block (no heads): only out_proj.bias [D], unless listed in `slimwav_omitted_tensors`
  * a removed FFN (width 0): only output_dense.bias [D], unless listed in `slimwav_omitted_tensors`
  * WavLM, if layer 0 keeps a head: encoder.layers.0.attention.rel_attn_embed.weight [num_buckets, H]; in every
    layer that keeps a head gru_rel_pos_linear.{weight [8, head_dim], bias [8]} and gru_rel_pos_const [1, H, 1, 1]
    (full size, indexed by original head). If layer 0 keeps no head there is no bias anywhere and none of these
    tensors is written.
So TS regenerates any fixture exactly with randomTensors(config, slimwav_init_seed) minus the names listed in the
config key `slimwav_omitted_tensors` (a slimwav-only key; the loader ignores it).

=====================================================================================================================
Layouts
=====================================================================================================================
Each ragged fixture draws its layout with numpy.random.RandomState(slimwav_layout_seed) (legacy MT19937, stable
across numpy versions), per layer, always consuming the same draws: n_heads ~ U{1..H}; kept heads = sorted
choice(H, n_heads) (original indices); per head qk = 0 with p 0.2 else U{1..head_dim}, v ~ U{1..head_dim};
ffn ~ U{1..intermediate_size}. Explicit per-layer overrides in SPECS then pin the cases the tests must see; the
script asserts that the set of fixtures covers the required cases (see check_coverage) every run.

WavLM decisions (the WavLM paper's gated relative position bias, HF modeling_wavlm.py):
  * bucket(j − i) is computed as HF/torch do, in float32: log(f32(n / max_exact)) / f32(log(max_dist/max_exact))
    · (half − max_exact), + max_exact, truncated, capped at half − 1; +half for j − i > 0. The script compares
    this with a float64 evaluation over |j − i| < 4096 for every bucket setting used and prints the differences.
  * the gate input is the attention input: the residual stream for post-LN, the layer_norm output for pre-LN.
  * layer 0 without heads: no bias in any layer (DPHuBERT), and no rel_attn_embed / gru tensors are written.
  * a qk width of 0 gives all-zero scores, so softmax is over gate·bias alone (uniform without a bias).

Reference tensors in ref.safetensors: as make_fixtures.py (`input.<clip>`, `conv.<clip>.<i>`, `proj.<clip>`,
`posconv.<clip>`, `hidden.<clip>.<i>`, time-major [T, C], HF output_hidden_states semantics), clips `sine` and
`noise` (9600 samples, make_fixtures formulas) and `speech` (the exact samples of `input.speech` in
test/fixtures/tiny-w2v-group/ref.safetensors). Conv stages are kept for every clip, or for `speech` only when the
file would exceed 1 MB.
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

PRUNE_KEYS = ('layer_heads', 'layer_head_qk_dims', 'layer_head_v_dims', 'layer_intermediate_sizes')
OMIT_KEY = 'slimwav_omitted_tensors'
CONV_NORM_EPS = 1e-5  # nn.GroupNorm / nn.LayerNorm defaults of the conv blocks (torchaudio and HF)
TOL_TORCHAUDIO = 1e-5
TOL_F64 = 1e-6
REF_NOTE = ('slimwav ragged/WavLM reference: own torch float32 implementation (proven against torchaudio 0.13 on '
            'dense and zero-padded layouts, and against a float64 numpy implementation), time-major')

# ------------------------------------------------------------------------------------------------- layout / tensors


def head_dim(cfg: dict) -> int:
    return cfg['hidden_size'] // cfg['num_attention_heads']


def layer_plans(cfg: dict) -> list:
    """Per layer {heads, qk, v, ffn}; a config without the pruning keys is the full-width case."""
    H, L = cfg['num_attention_heads'], cfg['num_hidden_layers']
    if 'layer_heads' not in cfg:
        hd = head_dim(cfg)
        return [dict(heads=list(range(H)), qk=[hd] * H, v=[hd] * H, ffn=cfg['intermediate_size']) for _ in range(L)]
    return [dict(heads=list(h), qk=list(q), v=list(v), ffn=f)
            for h, q, v, f in zip(*(cfg[k] for k in PRUNE_KEYS))]


def has_rel_bias(cfg: dict) -> bool:
    return cfg['model_type'] == 'wavlm' and cfg['num_hidden_layers'] > 0 and len(layer_plans(cfg)[0]['heads']) > 0


def ragged_shapes(cfg: dict) -> dict:
    """HF name → shape of every tensor the model file holds (see the module docstring)."""
    shapes = {n: s for n, s in mf.hf_param_shapes(cfg).items() if not n.startswith('encoder.layers.')}
    D, H, hd = cfg['hidden_size'], cfg['num_attention_heads'], head_dim(cfg)
    omitted = set(cfg.get(OMIT_KEY, []))
    optional = set()
    bias = has_rel_bias(cfg)
    for l, p in enumerate(layer_plans(cfg)):
        a = f'encoder.layers.{l}.attention.'
        if p['heads']:
            sq, sv = sum(p['qk']), sum(p['v'])
            for proj, rows in (('q_proj', sq), ('k_proj', sq), ('v_proj', sv)):
                if rows:
                    shapes[a + proj + '.weight'] = [rows, D]
                    shapes[a + proj + '.bias'] = [rows]
            shapes[a + 'out_proj.weight'] = [D, sv]
            shapes[a + 'out_proj.bias'] = [D]
            if bias:
                if l == 0:
                    shapes[a + 'rel_attn_embed.weight'] = [cfg['num_buckets'], H]
                shapes[a + 'gru_rel_pos_linear.weight'] = [8, hd]
                shapes[a + 'gru_rel_pos_linear.bias'] = [8]
                shapes[a + 'gru_rel_pos_const'] = [1, H, 1, 1]
        else:
            optional.add(a + 'out_proj.bias')
            if a + 'out_proj.bias' not in omitted:
                shapes[a + 'out_proj.bias'] = [D]
        p_ = f'encoder.layers.{l}.'
        shapes[p_ + 'layer_norm.weight'] = [D]
        shapes[p_ + 'layer_norm.bias'] = [D]
        f = p['ffn']
        ff = p_ + 'feed_forward.'
        if f:
            shapes[ff + 'intermediate_dense.weight'] = [f, D]
            shapes[ff + 'intermediate_dense.bias'] = [f]
            shapes[ff + 'output_dense.weight'] = [D, f]
            shapes[ff + 'output_dense.bias'] = [D]
        else:
            optional.add(ff + 'output_dense.bias')
            if ff + 'output_dense.bias' not in omitted:
                shapes[ff + 'output_dense.bias'] = [D]
        shapes[p_ + 'final_layer_norm.weight'] = [D]
        shapes[p_ + 'final_layer_norm.bias'] = [D]
    assert omitted <= optional, f'{OMIT_KEY} names tensors that are not optional: {sorted(omitted - optional)}'
    return shapes


def init_rule(name: str, shape) -> tuple:
    """make_fixtures.init_rule plus WavLM's gate constant (order as initRule in random-init.ts)."""
    if not name.endswith('.bias') and name.endswith('gru_rel_pos_const'):
        return 0.2, 1.0
    return mf.init_rule(name, shape)


def make_weights(cfg: dict) -> dict:
    seed = cfg['slimwav_init_seed']
    out = {}
    for name, shape in ragged_shapes(cfg).items():
        assert int(np.prod(shape)) > 0, name
        scale, offset = init_rule(name, shape)
        out[name] = mf.hash_fill(name, seed, shape, scale, offset)
    return out


# ------------------------------------------------------------------------------------------------- own torch model


def rel_buckets_torch(T: int, num_buckets: int, max_distance: int) -> torch.Tensor:
    """[T, T] bucket of (j − i), float32 arithmetic as HF/fairseq/torch evaluate it."""
    pos = torch.arange(T, dtype=torch.long)
    rel = pos[None, :] - pos[:, None]
    half = num_buckets // 2
    max_exact = half // 2
    base = (rel > 0).long() * half
    n = rel.abs()
    with torch.no_grad():
        f = torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (half - max_exact)
        large = (max_exact + f).long()  # n = 0 gives -inf here; masked below
    large = torch.minimum(large, torch.full_like(large, half - 1))
    return base + torch.where(n < max_exact, n, large)


def _ln(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def _attention(cfg, P, l, plan, xin, B):
    """Ragged multi-head attention of layer l on xin [T, D]; returns what is added to the residual stream."""
    a = f'encoder.layers.{l}.attention.'
    heads, qk, vd = plan['heads'], plan['qk'], plan['v']
    if not heads:
        return P.get(a + 'out_proj.bias', 0.0)
    T = xin.shape[0]
    H, hd = cfg['num_attention_heads'], head_dim(cfg)
    scale = hd ** -0.5  # of the ORIGINAL head width, whatever was pruned
    q = F.linear(xin, P[a + 'q_proj.weight'], P[a + 'q_proj.bias']) if sum(qk) else None
    k = F.linear(xin, P[a + 'k_proj.weight'], P[a + 'k_proj.bias']) if sum(qk) else None
    v = F.linear(xin, P[a + 'v_proj.weight'], P[a + 'v_proj.bias'])
    gate = None
    if B is not None:
        # gate from the attention input split into the ORIGINAL heads, then indexed by kept original head
        g = F.linear(xin.reshape(T, H, hd), P[a + 'gru_rel_pos_linear.weight'], P[a + 'gru_rel_pos_linear.bias'])
        ab = torch.sigmoid(g.reshape(T, H, 2, 4).sum(-1))
        c = P[a + 'gru_rel_pos_const'].reshape(H)
        gate = (ab[:, :, 0] * (ab[:, :, 1] * c - 1.0) + 2.0).transpose(0, 1)  # [H, T]
    outs = []
    qo = vo = 0
    for i, h in enumerate(heads):
        dq, dv = qk[i], vd[i]
        if dq:
            s = (scale * q[:, qo:qo + dq]) @ k[:, qo:qo + dq].transpose(0, 1)
        else:
            s = torch.zeros(T, T, dtype=xin.dtype)
        if gate is not None:
            s = s + gate[h][:, None] * B[h]
        s = s - s.max(dim=-1, keepdim=True)[0]
        outs.append(torch.softmax(s, dim=-1) @ v[:, vo:vo + dv])
        qo += dq
        vo += dv
    return F.linear(torch.cat(outs, dim=1), P[a + 'out_proj.weight'], P[a + 'out_proj.bias'])


def _ffn(P, l, plan, xin):
    f = f'encoder.layers.{l}.feed_forward.'
    if not plan['ffn']:
        return P.get(f + 'output_dense.bias', 0.0)
    h = F.gelu(F.linear(xin, P[f + 'intermediate_dense.weight'], P[f + 'intermediate_dense.bias']))
    return F.linear(h, P[f + 'output_dense.weight'], P[f + 'output_dense.bias'])


def torch_forward(cfg: dict, weights: dict, wav: np.ndarray, dtype=torch.float32, zero_rel_embed=False) -> dict:
    """Every stage for one clip, batch 1, time-major numpy arrays (same dict layout as make_fixtures.run_stages)."""
    P = {n: torch.from_numpy(np.ascontiguousarray(a)).to(dtype) for n, a in weights.items()}
    eps = cfg['layer_norm_eps']
    out = {'conv': [], 'hidden': []}
    with torch.no_grad():
        x = torch.from_numpy(wav.astype(np.float32)).to(dtype).reshape(1, 1, -1)
        group = cfg['feat_extract_norm'] == 'group'
        for i, (c, s) in enumerate(zip(cfg['conv_dim'], cfg['conv_stride'])):
            p = f'feature_extractor.conv_layers.{i}.'
            x = F.conv1d(x, P[p + 'conv.weight'], P.get(p + 'conv.bias'), stride=s)
            if group and i == 0:
                x = F.group_norm(x, c, P[p + 'layer_norm.weight'], P[p + 'layer_norm.bias'], CONV_NORM_EPS)
            elif not group:
                x = _ln(x.transpose(1, 2), P[p + 'layer_norm.weight'], P[p + 'layer_norm.bias'],
                        CONV_NORM_EPS).transpose(1, 2)
            x = F.gelu(x)
            out['conv'].append(x[0].transpose(0, 1).contiguous())
        feats = x[0].transpose(0, 1)
        proj = F.linear(_ln(feats, P['feature_projection.layer_norm.weight'], P['feature_projection.layer_norm.bias'],
                            eps), P['feature_projection.projection.weight'], P['feature_projection.projection.bias'])
        K, G = cfg['num_conv_pos_embeddings'], cfg['num_conv_pos_embedding_groups']
        pv, pg = P['encoder.pos_conv_embed.conv.weight_v'], P['encoder.pos_conv_embed.conv.weight_g']
        w = pg * pv / pv.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()
        y = F.conv1d(proj.transpose(0, 1)[None], w, P['encoder.pos_conv_embed.conv.bias'], padding=K // 2, groups=G)
        if K % 2 == 0:
            y = y[:, :, :-1]
        pc = proj + F.gelu(y[0].transpose(0, 1))
        post = not cfg['do_stable_layer_norm']
        enc = (P['encoder.layer_norm.weight'], P['encoder.layer_norm.bias'])
        x = _ln(pc, *enc, eps) if post else pc
        out['hidden'].append(x)
        T = x.shape[0]
        B = None
        if has_rel_bias(cfg):
            E = P['encoder.layers.0.attention.rel_attn_embed.weight']
            if zero_rel_embed:
                E = torch.zeros_like(E)
            B = E[rel_buckets_torch(T, cfg['num_buckets'], cfg['max_bucket_distance'])].permute(2, 0, 1)  # [H,T,T]
        for l, plan in enumerate(layer_plans(cfg)):
            p = f'encoder.layers.{l}.'
            ln1 = (P[p + 'layer_norm.weight'], P[p + 'layer_norm.bias'])
            ln2 = (P[p + 'final_layer_norm.weight'], P[p + 'final_layer_norm.bias'])
            if post:  # both norms applied even when a block is gone
                x = _ln(x + _attention(cfg, P, l, plan, x, B), *ln1, eps)
                x = _ln(x + _ffn(P, l, plan, x), *ln2, eps)
            else:  # a removed block is skipped (its bias still added)
                x = x + (_attention(cfg, P, l, plan, _ln(x, *ln1, eps), B) if plan['heads']
                         else _attention(cfg, P, l, plan, None, B))
                x = x + (_ffn(P, l, plan, _ln(x, *ln2, eps)) if plan['ffn'] else _ffn(P, l, plan, None))
            out['hidden'].append(x)
        if not post:
            out['hidden'][-1] = _ln(out['hidden'][-1], *enc, eps)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    return {'conv': [c.numpy().astype(np_dtype) for c in out['conv']], 'proj': proj.numpy().astype(np_dtype),
            'posconv': pc.numpy().astype(np_dtype), 'hidden': [h.numpy().astype(np_dtype) for h in out['hidden']]}


# ------------------------------------------------------------------------------------------------- zero-padded dense


def embed_dense(cfg: dict, weights: dict):
    """The same function as a dense model: (dense config, dense HF weights, has_rel_bias). Exact in real arithmetic."""
    D, H, hd, Fm = cfg['hidden_size'], cfg['num_attention_heads'], head_dim(cfg), cfg['intermediate_size']
    dcfg = {k: v for k, v in cfg.items() if k not in PRUNE_KEYS and k != OMIT_KEY}
    dw = {n: a for n, a in weights.items() if not n.startswith('encoder.layers.')}
    z = lambda *s: np.zeros(s, dtype=np.float32)  # noqa: E731
    for l, p in enumerate(layer_plans(cfg)):
        a = f'encoder.layers.{l}.attention.'
        Wq, bq, Wk, bk, Wv, bv, Wo = z(D, D), z(D), z(D, D), z(D), z(D, D), z(D), z(D, D)
        qo = vo = 0
        for h, dq, dv in zip(p['heads'], p['qk'], p['v']):
            r = h * hd
            if dq:
                Wq[r:r + dq] = weights[a + 'q_proj.weight'][qo:qo + dq]
                bq[r:r + dq] = weights[a + 'q_proj.bias'][qo:qo + dq]
                Wk[r:r + dq] = weights[a + 'k_proj.weight'][qo:qo + dq]
                bk[r:r + dq] = weights[a + 'k_proj.bias'][qo:qo + dq]
            Wv[r:r + dv] = weights[a + 'v_proj.weight'][vo:vo + dv]
            bv[r:r + dv] = weights[a + 'v_proj.bias'][vo:vo + dv]
            Wo[:, r:r + dv] = weights[a + 'out_proj.weight'][:, vo:vo + dv]
            qo += dq
            vo += dv
        for n, t in (('q_proj.weight', Wq), ('q_proj.bias', bq), ('k_proj.weight', Wk), ('k_proj.bias', bk),
                     ('v_proj.weight', Wv), ('v_proj.bias', bv), ('out_proj.weight', Wo)):
            dw[a + n] = t
        dw[a + 'out_proj.bias'] = weights.get(a + 'out_proj.bias', z(D))
        if cfg['model_type'] == 'wavlm':
            if l == 0 and a + 'rel_attn_embed.weight' in weights:
                dw[a + 'rel_attn_embed.weight'] = weights[a + 'rel_attn_embed.weight']
            dw[a + 'gru_rel_pos_linear.weight'] = weights.get(a + 'gru_rel_pos_linear.weight', z(8, hd))
            dw[a + 'gru_rel_pos_linear.bias'] = weights.get(a + 'gru_rel_pos_linear.bias', z(8))
            dw[a + 'gru_rel_pos_const'] = weights.get(a + 'gru_rel_pos_const', np.ones((1, H, 1, 1), np.float32))
        pl = f'encoder.layers.{l}.'
        for n in ('layer_norm.weight', 'layer_norm.bias', 'final_layer_norm.weight', 'final_layer_norm.bias'):
            dw[pl + n] = weights[pl + n]
        f = pl + 'feed_forward.'
        W1, b1, W2 = z(Fm, D), z(Fm), z(D, Fm)
        w_ = p['ffn']
        assert w_ <= Fm, f'layer {l}: FFN width {w_} > intermediate_size {Fm}'
        if w_:
            W1[:w_] = weights[f + 'intermediate_dense.weight']
            b1[:w_] = weights[f + 'intermediate_dense.bias']
            W2[:, :w_] = weights[f + 'output_dense.weight']
        dw[f + 'intermediate_dense.weight'], dw[f + 'intermediate_dense.bias'] = W1, b1
        dw[f + 'output_dense.weight'] = W2
        dw[f + 'output_dense.bias'] = weights.get(f + 'output_dense.bias', z(D))
    return dcfg, dw, has_rel_bias(cfg)


# ------------------------------------------------------------------------------------------------- numpy float64


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _np_gelu(z):
    return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)))


def _np_norm_last(z, g, b, eps):
    mu = z.mean(axis=-1, keepdims=True)
    var = ((z - mu) ** 2).mean(axis=-1, keepdims=True)
    return (z - mu) / np.sqrt(var + eps) * g + b


def bucket_f64(rel: int, num_buckets: int, max_distance: int) -> int:
    half = num_buckets // 2
    max_exact = half // 2
    n = abs(rel)
    base = half if rel > 0 else 0
    if n < max_exact:
        return base + n
    return base + min(half - 1, int(max_exact + math.log(n / max_exact) / math.log(max_distance / max_exact)
                                     * (half - max_exact)))


def numpy_forward(dcfg: dict, dw: dict, wav: np.ndarray, rel_bias: bool) -> dict:
    """Dense wav2vec2/HuBERT/WavLM in float64 numpy, channel-first convs, einsum attention over all heads at once."""
    W = {n: a.astype(np.float64) for n, a in dw.items()}
    eps = dcfg['layer_norm_eps']
    D, H = dcfg['hidden_size'], dcfg['num_attention_heads']
    hd = D // H
    out = {'conv': [], 'hidden': []}
    x = wav.astype(np.float64)[None, :]  # [C, N]
    for i, (c, k, s) in enumerate(zip(dcfg['conv_dim'], dcfg['conv_kernel'], dcfg['conv_stride'])):
        p = f'feature_extractor.conv_layers.{i}.'
        win = np.lib.stride_tricks.sliding_window_view(x, k, axis=1)[:, ::s, :]  # [Cin, T, k]
        y = np.einsum('itk,oik->ot', win, W[p + 'conv.weight'])
        if p + 'conv.bias' in W:
            y = y + W[p + 'conv.bias'][:, None]
        if dcfg['feat_extract_norm'] == 'group':
            if i == 0:  # one group per channel: statistics over time
                mu = y.mean(axis=1, keepdims=True)
                var = ((y - mu) ** 2).mean(axis=1, keepdims=True)
                y = (y - mu) / np.sqrt(var + CONV_NORM_EPS) * W[p + 'layer_norm.weight'][:, None] \
                    + W[p + 'layer_norm.bias'][:, None]
        else:
            y = _np_norm_last(y.T, W[p + 'layer_norm.weight'], W[p + 'layer_norm.bias'], CONV_NORM_EPS).T
        x = _np_gelu(y)
        out['conv'].append(x.T.copy())
    feats = x.T
    proj = _np_norm_last(feats, W['feature_projection.layer_norm.weight'], W['feature_projection.layer_norm.bias'],
                         eps) @ W['feature_projection.projection.weight'].T + W['feature_projection.projection.bias']
    T = proj.shape[0]
    K, G = dcfg['num_conv_pos_embeddings'], dcfg['num_conv_pos_embedding_groups']
    v = W['encoder.pos_conv_embed.conv.weight_v']
    wpos = W['encoder.pos_conv_embed.conv.weight_g'] * v / np.sqrt((v ** 2).sum(axis=(0, 1), keepdims=True))
    cg = D // G
    padded = np.pad(proj.T, ((0, 0), (K // 2, K // 2)))
    pos = np.empty((D, T))
    for g in range(G):
        win = np.lib.stride_tricks.sliding_window_view(padded[g * cg:(g + 1) * cg], K, axis=1)[:, :T, :]
        pos[g * cg:(g + 1) * cg] = np.einsum('itk,oik->ot', win, wpos[g * cg:(g + 1) * cg])
    pos += W['encoder.pos_conv_embed.conv.bias'][:, None]
    pc = proj + _np_gelu(pos.T)
    post = not dcfg['do_stable_layer_norm']
    enc_g, enc_b = W['encoder.layer_norm.weight'], W['encoder.layer_norm.bias']
    x = _np_norm_last(pc, enc_g, enc_b, eps) if post else pc
    out['hidden'].append(x)
    bias = None
    if rel_bias:
        E = W['encoder.layers.0.attention.rel_attn_embed.weight']
        idx = np.array([[bucket_f64(j - i, dcfg['num_buckets'], dcfg['max_bucket_distance']) for j in range(T)]
                        for i in range(T)])
        bias = np.transpose(E[idx], (2, 0, 1))  # [H, T, T]
    for l in range(dcfg['num_hidden_layers']):
        p = f'encoder.layers.{l}.'
        a = p + 'attention.'

        def attn(z):
            q = (z @ W[a + 'q_proj.weight'].T + W[a + 'q_proj.bias']).reshape(T, H, hd)
            k = (z @ W[a + 'k_proj.weight'].T + W[a + 'k_proj.bias']).reshape(T, H, hd)
            vv = (z @ W[a + 'v_proj.weight'].T + W[a + 'v_proj.bias']).reshape(T, H, hd)
            logits = np.einsum('thd,shd->hts', q, k) / math.sqrt(hd)
            if bias is not None:
                gl = z.reshape(T, H, hd) @ W[a + 'gru_rel_pos_linear.weight'].T + W[a + 'gru_rel_pos_linear.bias']
                ga = 1.0 / (1.0 + np.exp(-gl[:, :, :4].sum(-1)))
                gb = 1.0 / (1.0 + np.exp(-gl[:, :, 4:].sum(-1)))
                gate = ga * (gb * W[a + 'gru_rel_pos_const'].reshape(1, H) - 1.0) + 2.0  # [T, H]
                logits = logits + gate.T[:, :, None] * bias
            e = np.exp(logits - logits.max(axis=-1, keepdims=True))
            prob = e / e.sum(axis=-1, keepdims=True)
            o = np.einsum('hts,shd->thd', prob, vv).reshape(T, D)
            return o @ W[a + 'out_proj.weight'].T + W[a + 'out_proj.bias']

        def ffn(z):
            f = p + 'feed_forward.'
            h = _np_gelu(z @ W[f + 'intermediate_dense.weight'].T + W[f + 'intermediate_dense.bias'])
            return h @ W[f + 'output_dense.weight'].T + W[f + 'output_dense.bias']

        ln1 = (W[p + 'layer_norm.weight'], W[p + 'layer_norm.bias'])
        ln2 = (W[p + 'final_layer_norm.weight'], W[p + 'final_layer_norm.bias'])
        if post:
            x = _np_norm_last(x + attn(x), *ln1, eps)
            x = _np_norm_last(x + ffn(x), *ln2, eps)
        else:
            x = x + attn(_np_norm_last(x, *ln1, eps))
            x = x + ffn(_np_norm_last(x, *ln2, eps))
        out['hidden'].append(x)
    if not post:
        out['hidden'][-1] = _np_norm_last(out['hidden'][-1], enc_g, enc_b, eps)
    out['proj'], out['posconv'] = proj, pc
    return out


# ------------------------------------------------------------------------------------------------- comparisons


def stage_list(r: dict) -> list:
    return ([(f'conv.{i}', c) for i, c in enumerate(r['conv'])] + [('proj', r['proj']), ('posconv', r['posconv'])]
            + [(f'hidden.{i}', h) for i, h in enumerate(r['hidden'])])


def compare(what: str, ours: dict, ref: dict, tol: float) -> float:
    """Largest max|ours − ref| / max(1, max|ref|) over all stages; asserts ≤ tol stage by stage."""
    worst = 0.0
    a, b = stage_list(ours), stage_list(ref)
    assert [n for n, _ in a] == [n for n, _ in b], (what, [n for n, _ in a], [n for n, _ in b])
    for (n, x), (_, y) in zip(a, b):
        assert x.shape == y.shape, f'{what} {n}: shape {x.shape} vs {y.shape}'
        err = float(np.abs(x.astype(np.float64) - y.astype(np.float64)).max()) / max(1.0, float(np.abs(y).max()))
        assert err <= tol, f'{what} {n}: relative error {err:.3e} > {tol:.0e}'
        worst = max(worst, err)
    return worst


def read_safetensors(path: str) -> dict:
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, meta in header.items():
        if name == '__metadata__':
            continue
        assert meta['dtype'] == 'F32', (name, meta['dtype'])
        s, e = meta['data_offsets']
        out[name] = np.frombuffer(data[8 + n + s:8 + n + e], dtype='<f4').reshape(meta['shape']).copy()
    return out


# ------------------------------------------------------------------------------------------------- fixtures


def conv_spec(*layers):
    return [c for c, _, _ in layers], [k for _, k, _ in layers], [s for _, _, s in layers]


STRIDE160 = [(17, 10, 5), (23, 3, 2), (31, 3, 2), (19, 3, 2), (13, 2, 2), (21, 2, 2)]

# Per fixture: dims, then `over` = {layer: overrides} applied after the seeded draw. Override keys: heads, qk, v
# (explicit lists), ffn (width), attn_bias / ffn_bias (False = that removed block's bias is not stored).
SPECS = [
    dict(name='ragged-w2v-a', model_type='wav2vec2', conv=STRIDE160, conv_bias=False, norm='group', D=48, H=4,
         F=96, L=3, pos=(16, 4), pre_ln=False, init_seed=101, layout_seed=9001,
         over={1: dict(heads=[], attn_bias=True), 2: dict(ffn=1)}),
    dict(name='ragged-w2v-b', model_type='wav2vec2',
         conv=[(15, 10, 5), (25, 3, 2), (27, 3, 2), (11, 3, 2), (29, 3, 2), (9, 2, 2), (33, 2, 2)], conv_bias=True,
         norm='layer', D=60, H=5, F=120, L=4, pos=(7, 5), pre_ln=True, init_seed=102, layout_seed=9002,
         over={0: dict(ffn=0, ffn_bias=True), 2: dict(heads=[], attn_bias=True, ffn=0, ffn_bias=False),
               3: dict(ffn=17)}),
    dict(name='ragged-w2v-c', model_type='wav2vec2', conv=[(13, 10, 5), (19, 5, 4), (21, 4, 4), (7, 4, 4)],
         conv_bias=False, norm='layer', D=48, H=6, F=1024, L=1, pos=(12, 3), pre_ln=False, init_seed=103,
         layout_seed=9003, over={0: dict(heads=[4], qk=[5], v=[7], ffn=1000)}),
    dict(name='ragged-hubert-a', model_type='hubert',
         conv=[(19, 10, 5), (21, 3, 2), (23, 3, 2), (25, 3, 2), (27, 3, 2), (29, 2, 2), (31, 2, 2)], conv_bias=False,
         norm='group', D=64, H=4, F=128, L=4, pos=(16, 8), pre_ln=True, init_seed=104, layout_seed=9004,
         over={0: dict(ffn=3), 2: dict(heads=[], attn_bias=False)}),
    dict(name='ragged-hubert-b', model_type='hubert', conv=[(11, 10, 5), (17, 8, 4), (23, 4, 4), (13, 4, 4)],
         conv_bias=True, norm='layer', D=56, H=4, F=112, L=3, pos=(10, 4), pre_ln=False, init_seed=105,
         layout_seed=9005, over={0: dict(ffn=17), 1: dict(ffn=0, ffn_bias=False)}),
    dict(name='ragged-hubert-c', model_type='hubert',
         conv=[(9, 10, 5), (15, 3, 2), (17, 3, 2), (35, 3, 2), (13, 2, 2), (31, 2, 2)], conv_bias=False,
         norm='group', D=48, H=6, F=64, L=4, pos=(8, 6), pre_ln=False, init_seed=106, layout_seed=9006,
         over={1: dict(heads=[], attn_bias=False, ffn=0, ffn_bias=False),
               3: dict(heads=[1, 4], qk=[0, 0], v=[3, 8])}),
    dict(name='wavlm-dense', model_type='wavlm',
         conv=[(17, 10, 5), (19, 3, 2), (21, 3, 2), (23, 3, 2), (25, 3, 2), (27, 2, 2), (29, 2, 2)], conv_bias=False,
         norm='group', D=48, H=4, F=96, L=2, pos=(16, 4), pre_ln=False, init_seed=107, buckets=(320, 800),
         dense=True),
    dict(name='wavlm-ragged-a', model_type='wavlm',
         conv=[(15, 10, 5), (21, 3, 2), (13, 3, 2), (27, 3, 2), (11, 2, 2), (19, 2, 2)], conv_bias=False,
         norm='group', D=64, H=4, F=128, L=3, pos=(16, 4), pre_ln=False, init_seed=108, layout_seed=9008,
         buckets=(24, 20), over={0: dict(heads=[1, 3], qk=[16, 0], v=[5, 11]), 1: dict(heads=[], attn_bias=True)}),
    dict(name='wavlm-ragged-b', model_type='wavlm',
         conv=[(15, 10, 5), (25, 3, 2), (27, 3, 2), (11, 3, 2), (29, 3, 2), (9, 2, 2), (33, 2, 2)], conv_bias=True,
         norm='layer', D=60, H=5, F=120, L=3, pos=(7, 5), pre_ln=True, init_seed=109, layout_seed=9009,
         buckets=(32, 48), over={0: dict(heads=[0, 2, 4], qk=[3, 12, 0], v=[12, 1, 9]), 1: dict(ffn=0, ffn_bias=True),
                                 2: dict(heads=[3], qk=[7], v=[1])}),
    dict(name='wavlm-ragged-c', model_type='wavlm', conv=STRIDE160, conv_bias=False, norm='group', D=48, H=6, F=64,
         L=3, pos=(8, 6), pre_ln=False, init_seed=110, layout_seed=9010, buckets=(320, 800),
         over={0: dict(heads=[], attn_bias=True), 2: dict(ffn=0, ffn_bias=True)}),
]


def draw_layout(spec: dict) -> list:
    rng = np.random.RandomState(spec['layout_seed'])
    H, hd, Fm = spec['H'], spec['D'] // spec['H'], spec['F']
    plans = []
    for l in range(spec['L']):
        nh = int(rng.randint(1, H + 1))
        heads = sorted(int(h) for h in rng.choice(H, nh, replace=False))
        qk = [0 if rng.rand() < 0.2 else int(rng.randint(1, hd + 1)) for _ in range(nh)]
        v = [int(rng.randint(1, hd + 1)) for _ in range(nh)]
        ffn = int(rng.randint(1, Fm + 1))
        plan = dict(heads=heads, qk=qk, v=v, ffn=ffn, attn_bias=True, ffn_bias=True)
        o = spec.get('over', {}).get(l, {})
        if 'heads' in o:
            plan['heads'] = o['heads']
            if not o['heads']:
                plan['qk'], plan['v'] = [], []
            else:  # explicit widths, or keep the drawn widths for as many heads
                plan['qk'] = o.get('qk', (qk * H)[:len(o['heads'])])
                plan['v'] = o.get('v', (v * H)[:len(o['heads'])])
        for key in ('ffn', 'attn_bias', 'ffn_bias'):
            if key in o:
                plan[key] = o[key]
        assert len(plan['qk']) == len(plan['v']) == len(plan['heads'])
        plans.append(plan)
    return plans


def make_config(spec: dict) -> dict:
    cdim, ck, cs = conv_spec(*spec['conv'])
    extra = {}
    if spec['model_type'] == 'wavlm':
        extra['num_buckets'], extra['max_bucket_distance'] = spec['buckets']
    cfg = mf.base_config(spec['model_type'], cdim, ck, cs, spec['conv_bias'], spec['norm'], spec['D'], spec['L'],
                         spec['H'], spec['F'], spec['pos'][0], spec['pos'][1], spec['pre_ln'], spec['init_seed'],
                         **extra)
    if spec.get('dense'):
        return cfg
    plans = draw_layout(spec)
    cfg['layer_heads'] = [p['heads'] for p in plans]
    cfg['layer_head_qk_dims'] = [p['qk'] for p in plans]
    cfg['layer_head_v_dims'] = [p['v'] for p in plans]
    cfg['layer_intermediate_sizes'] = [p['ffn'] for p in plans]
    cfg['slimwav_layout_seed'] = spec['layout_seed']
    omitted = []
    for l, p in enumerate(plans):
        if not p['heads'] and not p['attn_bias']:
            omitted.append(f'encoder.layers.{l}.attention.out_proj.bias')
        if not p['ffn'] and not p['ffn_bias']:
            omitted.append(f'encoder.layers.{l}.feed_forward.output_dense.bias')
    cfg[OMIT_KEY] = omitted
    return cfg


def layout_summary(cfg: dict, weights: dict) -> str:
    parts = []
    for l, p in enumerate(layer_plans(cfg)):
        pre = f'encoder.layers.{l}.'
        if p['heads']:
            att = ' '.join(f'{h}:{q}/{v}' for h, q, v in zip(p['heads'], p['qk'], p['v']))
        else:
            att = '-' + ('+b' if pre + 'attention.out_proj.bias' in weights else '')
        ffn = str(p['ffn']) if p['ffn'] else '-' + ('+b' if pre + 'feed_forward.output_dense.bias' in weights else '')
        parts.append(f'[{att}] f{ffn}')
    return ' | '.join(parts)


def check_coverage(cfgs: dict, weights: dict):
    """Assert that the fixture set covers every case the ragged/WavLM tests rely on; returns the checklist."""
    items = []

    def need(what, ok):
        assert ok, f'fixture coverage: no fixture has {what}'
        items.append(what)

    layers = [(n, l, p, cfg) for n, cfg in cfgs.items() for l, p in enumerate(layer_plans(cfg))]
    has = lambda n, name: name in weights[n]  # noqa: E731
    att_b = lambda n, l: has(n, f'encoder.layers.{l}.attention.out_proj.bias')  # noqa: E731
    ffn_b = lambda n, l: has(n, f'encoder.layers.{l}.feed_forward.output_dense.bias')  # noqa: E731
    need('a layer whose heads differ in q/k widths and in v widths, with qk ≠ v',
         any(len(set(p['qk'])) > 1 and len(set(p['v'])) > 1 and any(a != b for a, b in zip(p['qk'], p['v']))
             for _, _, p, _ in layers))
    need('a head with q/k width 0 next to heads with q/k > 0',
         any(0 in p['qk'] and any(p['qk']) for _, _, p, _ in layers))
    need('a layer whose every kept head has q/k width 0 (no q/k tensors)',
         any(p['heads'] and not any(p['qk']) for _, _, p, _ in layers))
    widths = {w for _, _, p, _ in layers for w in p['qk'] + p['v']}
    need('head widths 1, 3, 5, 7', {1, 3, 5, 7} <= widths)
    need('a layer with exactly one head', any(len(p['heads']) == 1 for _, _, p, _ in layers))
    for ln_name, pre in (('post-LN', False), ('pre-LN', True)):
        need(f'attention removed, out_proj.bias stored ({ln_name})',
             any(not p['heads'] and att_b(n, l) and c['do_stable_layer_norm'] == pre for n, l, p, c in layers))
        need(f'FFN removed, output_dense.bias stored ({ln_name})',
             any(not p['ffn'] and ffn_b(n, l) and c['do_stable_layer_norm'] == pre for n, l, p, c in layers))
    need('attention removed, no out_proj.bias', any(not p['heads'] and not att_b(n, l) for n, l, p, _ in layers))
    need('FFN removed, no output_dense.bias', any(not p['ffn'] and not ffn_b(n, l) for n, l, p, _ in layers))
    need('a layer with both blocks removed (post-LN and pre-LN)',
         {c['do_stable_layer_norm'] for _, _, p, c in layers if not p['heads'] and not p['ffn']} == {False, True})
    ffns = {p['ffn'] for _, _, p, _ in layers}
    need('FFN widths 1, 3, 17', {1, 3, 17} <= ffns)
    need('FFN width 1000 in a 1-layer model', any(p['ffn'] == 1000 and c['num_hidden_layers'] == 1
                                                   for _, _, p, c in layers))
    need('odd conv channel counts', all(any(d % 2 for d in c['conv_dim']) for c in cfgs.values()))
    for mt in ('wav2vec2', 'hubert', 'wavlm'):
        sel = [c for c in cfgs.values() if c['model_type'] == mt]
        need(f'{mt}: post-LN and pre-LN', {c['do_stable_layer_norm'] for c in sel} == {False, True})
        need(f'{mt}: group and layer extractors', {c['feat_extract_norm'] for c in sel} == {'group', 'layer'})
        need(f'{mt}: conv bias on and off', {c['conv_bias'] for c in sel} == {False, True})
    need('WavLM: kept original head indices that are not 0..h−1',
         any(c['model_type'] == 'wavlm' and p['heads'] and p['heads'] != list(range(len(p['heads'])))
             for _, _, p, c in layers))
    need('WavLM: a later layer without heads (no gru tensors) while the bias exists',
         any(c['model_type'] == 'wavlm' and l > 0 and not p['heads'] and has_rel_bias(c) for _, l, p, c in layers))
    need('WavLM: layer 0 without heads (no bias anywhere)',
         any(c['model_type'] == 'wavlm' and not has_rel_bias(c) for c in cfgs.values()))
    need('WavLM: a q/k-width-0 head under the bias',
         any(c['model_type'] == 'wavlm' and has_rel_bias(c) and 0 in p['qk'] for _, _, p, c in layers))
    frames = {n: conv_frames(c, 16000) for n, c in cfgs.items()}
    need('WavLM: relative offsets in the logarithmic bucket range and beyond max_bucket_distance (cap)',
         any(c['model_type'] == 'wavlm' and has_rel_bias(c) and frames[n] - 1 > c['num_buckets'] // 4
             and frames[n] - 1 >= c['max_bucket_distance'] for n, c in cfgs.items()))
    return items


def conv_frames(cfg: dict, samples: int) -> int:
    for k, s in zip(cfg['conv_kernel'], cfg['conv_stride']):
        samples = 0 if samples < k else (samples - k) // s + 1
    return samples


# ------------------------------------------------------------------------------------------------- proofs


def bucket_precision_report(settings) -> list:
    """For each (num_buckets, max_distance): |j−i| < 4096 where the float32 (torch) bucket ≠ the float64 one."""
    lines = []
    for nb, md in settings:
        T = 4096
        b32 = rel_buckets_torch(T, nb, md)
        row_last, row_first = b32[T - 1].tolist(), b32[0].tolist()  # j − i = j − (T−1) ≤ 0, and j − 0 ≥ 0
        diffs = [r for r in range(-(T - 1), T)
                 if (row_last[r + T - 1] if r <= 0 else row_first[r]) != bucket_f64(r, nb, md)]
        lines.append(f'buckets {nb}/{md}: float32 vs float64 bucket differs at |j−i| < 4096 for '
                     + (f'{len(diffs)} offsets, e.g. {diffs[:6]}' if diffs else 'no offset'))
    return lines


def prove_dense(clips: dict) -> list:
    """P1 (own vs torchaudio on dense configs) and the numpy reference checked against torchaudio."""
    lines = []
    for name, cfg in mf.TINY.items():
        w = mf.make_weights(cfg)
        assert ragged_shapes(cfg) == mf.hf_param_shapes(cfg), f'{name}: dense layout names/shapes differ'
        assert all(np.array_equal(w[n], a) for n, a in make_weights(cfg).items()), name
        model = mf.build_model(cfg, w)
        e_own = e_np = 0.0
        for clip, wav in clips.items():
            ref = mf.run_stages(model, cfg, wav)
            e_own = max(e_own, compare(f'P1 {name} {clip}', torch_forward(cfg, w, wav), ref, TOL_TORCHAUDIO))
            e_np = max(e_np, compare(f'numpy {name} {clip}', numpy_forward(cfg, w, wav, False), ref, 1e-4))
        lines.append(f'P1 {name:<26} own f32 vs torchaudio {e_own:.2e}   numpy f64 vs torchaudio {e_np:.2e}')
    return lines


def prove_fixture(name: str, cfg: dict, w: dict, clips: dict, results: dict) -> list:
    """P2/P3/P4 for one fixture; `results` are the own-torch f32 stages that go into ref.safetensors."""
    lines = []
    dcfg, dw, rel = embed_dense(cfg, w)
    if cfg['model_type'] != 'wavlm':
        model = mf.build_model(dcfg, dw)
        e = max(compare(f'P2 {name} {c}', results[c], mf.run_stages(model, dcfg, wav), TOL_TORCHAUDIO)
                for c, wav in clips.items())
        lines.append(f'P2 {name:<26} own ragged f32 vs torchaudio (zero-padded dense) {e:.2e}')
    else:
        # P3: with a zero bias (or none: layer 0 without heads) WavLM is the plain transformer: vs torchaudio
        tcfg = {k: v for k, v in dcfg.items() if k not in ('num_buckets', 'max_bucket_distance')}
        tw = {n: a for n, a in dw.items() if 'rel_attn_embed' not in n and 'gru_rel_pos' not in n}
        model = mf.build_model(tcfg, tw)
        e = max(compare(f'P3 {name} {c}', torch_forward(cfg, w, wav, zero_rel_embed=True),
                        mf.run_stages(model, tcfg, wav), TOL_TORCHAUDIO) for c, wav in clips.items())
        what = 'zeroed rel_attn_embed' if rel else 'no bias (layer 0 has no heads)'
        lines.append(f'P3 {name:<26} own WavLM, {what}, vs torchaudio {e:.2e}')
    e64 = e32 = 0.0
    for c, wav in clips.items():
        ref = numpy_forward(dcfg, dw, wav, rel)
        e64 = max(e64, compare(f'P4 {name} {c}', torch_forward(cfg, w, wav, torch.float64), ref, TOL_F64))
        e32 = max(e32, compare(f'P4 {name} {c} (f32)', results[c], ref, 1e-4))
    lines.append(f'P4 {name:<26} own f64 vs numpy f64 dense embedding {e64:.2e}   fixture f32 vs numpy f64 {e32:.2e}')
    return lines


# ------------------------------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    names = [s['name'] for s in SPECS]
    ap.add_argument('--only', action='append', help='fixture name(s), comma separated: ' + ', '.join(names))
    ap.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test',
                                                  'fixtures'))
    args = ap.parse_args()
    only = names if not args.only else [n for o in args.only for n in o.split(',') if n]
    for n in only:
        if n not in names:
            ap.error(f'unknown fixture {n!r}; known: {", ".join(names)}')
    out_dir = os.path.normpath(args.out)

    mf.self_test_hash()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    t_start = time.time()

    assert not any('wavlm' in n.lower() for n in dir(torchaudio.models)), \
        'torchaudio now ships WavLM: add the direct dense-WavLM proof against it'
    print(f'torch {torch.__version__}, torchaudio {torchaudio.__version__}: torchaudio.models has no WavLM, so WavLM '
          'is proven by P3 (bias zeroed, vs torchaudio) and P4 (vs float64 numpy)')

    # the exact `speech` samples of the existing fixtures (espeak output is not reproducible across versions)
    script_dir = os.path.dirname(os.path.abspath(__file__))
    tiny = read_safetensors(os.path.join(script_dir, '..', 'test', 'fixtures', 'tiny-w2v-group', 'ref.safetensors'))
    clips = {'sine': mf.sine_clip(9600, 'clip.sine'), 'noise': mf.noise_clip(9600), 'speech': tiny['input.speech']}
    assert np.array_equal(tiny['input.sine'], clips['sine']) and np.array_equal(tiny['input.noise'], clips['noise'])

    # torch's float32 log in the bucket vs a float64 evaluation
    for line in bucket_precision_report(sorted({s['buckets'] for s in SPECS if 'buckets' in s})):
        print(line)

    for line in prove_dense(clips):
        print(line)

    cfgs = {s['name']: make_config(s) for s in SPECS}
    weights = {n: make_weights(c) for n, c in cfgs.items()}
    checklist = check_coverage(cfgs, weights)
    print(f'coverage: {len(checklist)} required cases present')

    summary = []
    for spec in SPECS:
        name = spec['name']
        if name not in only:
            continue
        cfg, w = cfgs[name], weights[name]
        results = {c: torch_forward(cfg, w, wav) for c, wav in clips.items()}
        for line in prove_fixture(name, cfg, w, clips, results):
            print(line)
        if cfg['model_type'] == 'wavlm' and has_rel_bias(cfg):
            T = max(r['hidden'][0].shape[0] for r in results.values())
            b = rel_buckets_torch(T, cfg['num_buckets'], cfg['max_bucket_distance'])
            assert b.tolist() == [[bucket_f64(j - i, cfg['num_buckets'], cfg['max_bucket_distance'])
                                   for j in range(T)] for i in range(T)], f'{name}: f32/f64 buckets differ'
        folder = os.path.join(out_dir, name)
        model_bytes = mf.safetensors_bytes(list(w.items()), {'format': 'pt'})
        assert len(model_bytes) <= mf.HARD_MAX_FILE, f'{name}/model.safetensors is {len(model_bytes)} bytes'
        ref = mf.ref_bytes(name, clips, results, REF_NOTE)
        mf.write_json(os.path.join(folder, 'config.json'), cfg)
        mf.write_file(os.path.join(folder, 'model.safetensors'), model_bytes)
        mf.write_file(os.path.join(folder, 'ref.safetensors'), ref)
        maxref, _ = mf.ref_maxima(results)
        frames = '/'.join(str(results[c]['hidden'][0].shape[0]) for c in clips)
        summary.append((name, cfg, w, len(model_bytes), len(ref), maxref, frames,
                        read_meta(ref).get('conv_clips', '')))

    print()
    print(f'{"folder":<16} {"type":<8} {"LN":<4} {"ext":<5} {"D/H/hd":<9} {"T s/n/sp":<9} {"model B":>8} '
          f'{"ref B":>8} {"max|h|":>7} {"conv refs":<16} sha256(model,ref)')
    for name, cfg, w, mb, rb, mh, frames, cc in summary:
        folder = os.path.join(out_dir, name)
        dig = ','.join(hashlib.sha256(open(os.path.join(folder, f), 'rb').read()).hexdigest()[:8]
                       for f in ('model.safetensors', 'ref.safetensors'))
        print(f'{name:<16} {cfg["model_type"]:<8} {"pre" if cfg["do_stable_layer_norm"] else "post":<4} '
              f'{cfg["feat_extract_norm"]:<5} {cfg["hidden_size"]}/{cfg["num_attention_heads"]}/{head_dim(cfg):<3} '
              f'{frames:<9} {mb:>8} {rb:>8} {mh:>7.3f} {cc:<16} {dig}')
        print(f'    conv {cfg["conv_dim"]}  layers {layout_summary(cfg, w)}'
              + (f'  buckets {cfg["num_buckets"]}/{cfg["max_bucket_distance"]}' if 'num_buckets' in cfg else ''))
    print('    (layer: [orig_head:qk/v …] f<ffn>;  - = block removed, +b = its bias stored)')
    print(f'total wall time {time.time() - t_start:.1f}s')


def read_meta(data: bytes) -> dict:
    (n,) = struct.unpack('<Q', data[:8])
    return json.loads(data[8:8 + n]).get('__metadata__', {})


if __name__ == '__main__':
    sys.exit(main())
