#!/usr/bin/python3
"""PyTorch-checkpoint fixtures for slimwav's checkpoint reader (src/format/{zip,pickle,pytorch,checkpoint}.ts).

Usage:  /usr/bin/python3 scripts/make_checkpoints.py [--out test/fixtures/ckpt]
Needs Debian's python3-torch 1.13 and python3-torchaudio 0.13 (run with /usr/bin/python3). Deterministic: seeded,
fixed zip timestamps; re-running rewrites the same bytes (except legacy.pt, whose storage keys are addresses).

Every readable checkpoint X comes with twins written by hand (no torch code involved in the encoding):
    X.raw.safetensors   the tensors of its state dict exactly as torch holds them (contiguous copies, same dtype),
                        under the state-dict names (after unwrapping {state_dict}/Lightning, as readTorchStateDict)
and the model forms additionally share an expected result of toSlimwavModel (Hugging Face names):
    tiny.hf.safetensors, dphubert.hf.safetensors, dphubert-wavlm.hf.safetensors

Files (all < 200 KB):
  hf/pytorch_model.bin + hf/config.json   (a) HF Wav2Vec2Model names (+ masked_spec_embed)
  hf-ctc.bin                              (b) the same under "wav2vec2." with an lm_head (Wav2Vec2ForCTC)
  torchaudio.pt                           (c) torchaudio names, bare state dict (has no config)
  torchaudio-config.pt                    (c) {'state_dict', 'config'} with dense torchaudio kwargs
  parametrizations.bin                    (d) HF names, weight norm as parametrizations.weight.original0/1
  proto4.pt                               HF names saved with pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL …)
  dphubert.pth                            (e) DPHuBERT {'state_dict','config','distill_linear_projs'}, pruned:
                                              conv 6/5 channels, layer 0 one head + FFN 20, layer 1 no attention +
                                              FFN 12, layer 2 two heads + no FFN; dummy_weight ≠ 1
  lightning.ckpt                          (e) Lightning checkpoint of the same student (student_model./teacher_model./
                                              distill_linear_projs./lambda1/2, log_alpha, optimizer state)
  dphubert-ref.safetensors                (e) reference hidden states of dphubert.pth for a short input: `input` and
                                              `hidden.0` … `hidden.3` (HF output_hidden_states numbering), from
                                              ragged_forward() below in float64, which first reproduces torchaudio's
                                              dense model (stock torchaudio cannot build per-layer head counts)
  dphubert-wavlm.pth                      (e) DPHuBERT WavLM: encoder_remaining_heads [[1], [0, 1]], rel_attn_embed,
                                              gru_rel_pos_*; dummy_weight all ones
  views.pt                                (f) transposed / strided / offset / shared-storage / expanded views,
                                              0-d and empty tensors, f16 bf16 f64 i64 i32 bool, a Parameter
  legacy.pt                               (g) _use_new_zipfile_serialization=False
Malicious and malformed (each must fail cleanly):
  malicious.pt            data.pkl: {'a': tensor, 'b': os.system('touch /tmp/slimwav-pickle-marker')} (GLOBAL+REDUCE)
  malicious-proto4.pt     protocol 4: builtins.exec via STACK_GLOBAL
  truncated.pt            the first 60% of hf/pytorch_model.bin
  bad-cd-offset.pt        end record's central-directory offset moved past the end
  storage-past-end.pt     a view (offset 100) beyond its 24-element storage
  shape-overflow.pt       size (2^40, 2^40), stride (2^40, 1)
  expand-huge.pt          size (2^40,), stride (0,): valid in torch, but 8 TB when copied out
  deflated.pt             hf/pytorch_model.bin re-zipped with deflate
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import torch
import torchaudio

MARKER = '/tmp/slimwav-pickle-marker'
ST_DTYPES = {
    torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64',
    torch.int64: 'I64', torch.int32: 'I32', torch.bool: 'BOOL',
}

# tiny dense model: 2 conv layers of 8 channels, hidden 16, 2 heads of 8, 1 layer, FFN 32, pos conv k=4 g=2
TINY = dict(
    extractor_mode='group_norm', extractor_conv_layer_config=[(8, 10, 5), (8, 3, 2)], extractor_conv_bias=False,
    encoder_embed_dim=16, encoder_projection_dropout=0.0, encoder_pos_conv_kernel=4, encoder_pos_conv_groups=2,
    encoder_num_layers=1, encoder_num_heads=2, encoder_attention_dropout=0.0, encoder_ff_interm_features=32,
    encoder_ff_interm_dropout=0.0, encoder_dropout=0.0, encoder_layer_norm_first=False, encoder_layer_drop=0.0,
    aux_num_out=None,
)
TINY_HF_CONFIG = {
    'architectures': ['Wav2Vec2Model'], 'model_type': 'wav2vec2',
    'conv_dim': [8, 8], 'conv_kernel': [10, 3], 'conv_stride': [5, 2], 'conv_bias': False,
    'feat_extract_norm': 'group', 'feat_extract_activation': 'gelu', 'hidden_size': 16, 'num_hidden_layers': 1,
    'num_attention_heads': 2, 'intermediate_size': 32, 'hidden_act': 'gelu', 'layer_norm_eps': 1e-05,
    'num_conv_pos_embeddings': 4, 'num_conv_pos_embedding_groups': 2, 'do_stable_layer_norm': False,
}


def tensor_bytes(t):
    t = t.detach().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b''


def write_safetensors(path, tensors):
    """safetensors by hand: u64 header length, JSON header, packed little-endian C-order data."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {'dtype': ST_DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(blobs))


def ta_to_hf(name):
    if name.startswith('encoder.feature_projection.'):
        return name[len('encoder.'):]
    if name.startswith('encoder.transformer.'):
        return 'encoder.' + name[len('encoder.transformer.'):]
    return name


def rand_like_shapes(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    return collections.OrderedDict((k, torch.randn(*s, generator=g)) for k, s in shapes)


def fixed_zip(path, entries, method=zipfile.ZIP_STORED):
    """A zip with fixed timestamps (for hand-made archives)."""
    with zipfile.ZipFile(path, 'w') as z:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = method
            z.writestr(zi, data)


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def save(obj, path, **kw):
    torch.save(obj, path, **kw)
    size = os.path.getsize(path)
    assert size < 200_000, (path, size)


class Call:
    """Pickles as fn(*args) without ever being called here."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def dphubert_student(seed):
    """A pruned DPHuBERT-style student: 3 layers of a D=16, 2×8-head model (torchaudio names, shapes by hand)."""
    D, hd = 16, 8
    shapes = [
        ('feature_extractor.conv_layers.0.layer_norm.weight', (6,)),
        ('feature_extractor.conv_layers.0.layer_norm.bias', (6,)),
        ('feature_extractor.conv_layers.0.conv.weight', (6, 1, 10)),
        ('feature_extractor.conv_layers.1.conv.weight', (5, 6, 3)),
        ('feature_extractor.dummy_weight', (5,)),
        ('encoder.feature_projection.layer_norm.weight', (5,)),
        ('encoder.feature_projection.layer_norm.bias', (5,)),
        ('encoder.feature_projection.projection.weight', (D, 5)),
        ('encoder.feature_projection.projection.bias', (D,)),
        ('encoder.transformer.pos_conv_embed.conv.bias', (D,)),
        ('encoder.transformer.pos_conv_embed.conv.weight_g', (1, 1, 4)),
        ('encoder.transformer.pos_conv_embed.conv.weight_v', (D, D // 2, 4)),
        ('encoder.transformer.layer_norm.weight', (D,)),
        ('encoder.transformer.layer_norm.bias', (D,)),
    ]
    layers = [(1, 20), (0, 12), (2, 0)]  # (heads, ffn)
    for l, (h, f) in enumerate(layers):
        p = f'encoder.transformer.layers.{l}'
        if h:
            for n in ('k_proj', 'v_proj', 'q_proj'):
                shapes += [(f'{p}.attention.{n}.weight', (h * hd, D)), (f'{p}.attention.{n}.bias', (h * hd,))]
            shapes += [(f'{p}.attention.out_proj.weight', (D, h * hd)), (f'{p}.attention.out_proj.bias', (D,))]
        shapes += [(f'{p}.layer_norm.weight', (D,)), (f'{p}.layer_norm.bias', (D,))]
        if f:
            shapes += [(f'{p}.feed_forward.intermediate_dense.weight', (f, D)),
                       (f'{p}.feed_forward.intermediate_dense.bias', (f,)),
                       (f'{p}.feed_forward.output_dense.weight', (D, f)),
                       (f'{p}.feed_forward.output_dense.bias', (D,))]
        shapes += [(f'{p}.final_layer_norm.weight', (D,)), (f'{p}.final_layer_norm.bias', (D,))]
    sd = rand_like_shapes(shapes, seed)
    config = dict(
        extractor_mode='group_norm', extractor_conv_layer_config=[(6, 10, 5), (5, 3, 2)], extractor_conv_bias=False,
        encoder_embed_dim=D, encoder_projection_dropout=0.1, encoder_pos_conv_kernel=4, encoder_pos_conv_groups=2,
        encoder_num_layers=3, encoder_use_attention=[True, False, True], encoder_use_feed_forward=[True, True, False],
        encoder_num_heads=[1, 0, 2], encoder_head_dim=hd, encoder_attention_dropout=0.1,
        encoder_ff_interm_features=[20, 12, 0], encoder_ff_interm_dropout=0.0, encoder_dropout=0.1,
        encoder_layer_norm_first=False, encoder_layer_drop=0.05, aux_num_out=None, normalize_waveform=False,
        extractor_prune_conv_channels=False, encoder_prune_attention_heads=False,
        encoder_prune_attention_layer=False, encoder_prune_feed_forward_intermediate=False,
        encoder_prune_feed_forward_layer=False,
    )
    return sd, config


def dphubert_wavlm(seed):
    D, hd, H, B = 16, 8, 2, 8
    shapes = [
        ('feature_extractor.conv_layers.0.layer_norm.weight', (8,)),
        ('feature_extractor.conv_layers.0.layer_norm.bias', (8,)),
        ('feature_extractor.conv_layers.0.conv.weight', (8, 1, 10)),
        ('feature_extractor.conv_layers.1.conv.weight', (8, 8, 3)),
        ('encoder.feature_projection.layer_norm.weight', (8,)),
        ('encoder.feature_projection.layer_norm.bias', (8,)),
        ('encoder.feature_projection.projection.weight', (D, 8)),
        ('encoder.feature_projection.projection.bias', (D,)),
        ('encoder.transformer.pos_conv_embed.conv.bias', (D,)),
        ('encoder.transformer.pos_conv_embed.conv.weight_g', (1, 1, 4)),
        ('encoder.transformer.pos_conv_embed.conv.weight_v', (D, D // 2, 4)),
        ('encoder.transformer.layer_norm.weight', (D,)),
        ('encoder.transformer.layer_norm.bias', (D,)),
    ]
    remaining = [[1], [0, 1]]
    for l, r in enumerate(remaining):
        p = f'encoder.transformer.layers.{l}'
        h = len(r)
        for n in ('k_proj', 'v_proj', 'q_proj'):
            shapes += [(f'{p}.attention.{n}.weight', (h * hd, D)), (f'{p}.attention.{n}.bias', (h * hd,))]
        shapes += [(f'{p}.attention.out_proj.weight', (D, h * hd)), (f'{p}.attention.out_proj.bias', (D,))]
        if l == 0:
            shapes += [(f'{p}.attention.rel_attn_embed.weight', (B, H))]
        shapes += [(f'{p}.attention.gru_rel_pos_const', (1, H, 1, 1)),
                   (f'{p}.attention.gru_rel_pos_linear.weight', (8, hd)),
                   (f'{p}.attention.gru_rel_pos_linear.bias', (8,))]
        shapes += [(f'{p}.layer_norm.weight', (D,)), (f'{p}.layer_norm.bias', (D,)),
                   (f'{p}.feed_forward.intermediate_dense.weight', (24, D)),
                   (f'{p}.feed_forward.intermediate_dense.bias', (24,)),
                   (f'{p}.feed_forward.output_dense.weight', (D, 24)),
                   (f'{p}.feed_forward.output_dense.bias', (D,)),
                   (f'{p}.final_layer_norm.weight', (D,)), (f'{p}.final_layer_norm.bias', (D,))]
    sd = rand_like_shapes(shapes, seed)
    sd['feature_extractor.dummy_weight'] = torch.ones(8)
    config = dict(
        extractor_mode='group_norm', extractor_conv_layer_config=[(8, 10, 5), (8, 3, 2)], extractor_conv_bias=False,
        encoder_embed_dim=D, encoder_projection_dropout=0.1, encoder_pos_conv_kernel=4, encoder_pos_conv_groups=2,
        encoder_num_layers=2, encoder_use_attention=[True, True], encoder_use_feed_forward=[True, True],
        encoder_total_num_heads=[H, H], encoder_remaining_heads=remaining, encoder_num_buckets=B,
        encoder_max_distance=16, encoder_attention_dropout=0.1, encoder_ff_interm_features=[24, 24],
        encoder_ff_interm_dropout=0.0, encoder_dropout=0.1, encoder_layer_norm_first=False, encoder_layer_drop=0.05,
        aux_num_out=None, normalize_waveform=False, extractor_prune_conv_channels=False,
        encoder_prune_attention_heads=False, encoder_prune_attention_layer=False,
        encoder_prune_feed_forward_intermediate=False, encoder_prune_feed_forward_layer=False,
    )
    return sd, config


def ragged_forward(sd, conv, heads, ffn, head_dim, pos_kernel, pos_groups, post_ln, x, eps=1e-5):
    """Our own forward pass of a (pruned) wav2vec2/HuBERT with torchaudio tensor names, in inference mode.

    conv: [(channels, kernel, stride)] (group norm on layer 0, no bias); heads[l]: kept heads of width head_dim (0 =
    attention block removed); ffn[l]: FFN width (0 = removed). Follows DPHuBERT: the last conv output is scaled
    channel-wise by feature_extractor.dummy_weight when present; the attention scale stays head_dim^-0.5; a removed
    block adds nothing; post-LN layers apply both layer norms even when a block is gone.
    Returns the hidden states in HF output_hidden_states numbering (index 0 = encoder input, i = layer i output).
    """
    F = torch.nn.functional
    w = lambda n: sd[n].to(x.dtype)
    h = x.reshape(1, 1, -1)
    for i, (c, k, s) in enumerate(conv):
        p = f'feature_extractor.conv_layers.{i}'
        h = F.conv1d(h, w(f'{p}.conv.weight'), None, stride=s)
        if i == 0:
            h = F.group_norm(h, c, w(f'{p}.layer_norm.weight'), w(f'{p}.layer_norm.bias'), eps)
        h = F.gelu(h)
    feats = h.transpose(1, 2)
    if 'feature_extractor.dummy_weight' in sd:
        feats = feats * w('feature_extractor.dummy_weight')
    C = feats.shape[-1]
    fp = 'encoder.feature_projection'
    feats = F.layer_norm(feats, (C,), w(f'{fp}.layer_norm.weight'), w(f'{fp}.layer_norm.bias'), eps)
    y = F.linear(feats, w(f'{fp}.projection.weight'), w(f'{fp}.projection.bias'))
    D = y.shape[-1]
    tp = 'encoder.transformer'
    pc = f'{tp}.pos_conv_embed.conv'
    pw = torch._weight_norm(w(f'{pc}.weight_v'), w(f'{pc}.weight_g'), 2)
    z = F.conv1d(y.transpose(1, 2), pw, w(f'{pc}.bias'), padding=pos_kernel // 2, groups=pos_groups)
    if pos_kernel % 2 == 0:
        z = z[..., :-1]
    y = y + F.gelu(z).transpose(1, 2)
    ln = lambda t, n: F.layer_norm(t, (D,), w(f'{n}.weight'), w(f'{n}.bias'), eps)
    if post_ln:
        y = ln(y, f'{tp}.layer_norm')
    hs = [y]
    T = y.shape[1]
    for l in range(len(heads)):
        p = f'{tp}.layers.{l}'

        def attention(t):
            a = f'{p}.attention'
            sh = (T, heads[l], head_dim)
            q = F.linear(t, w(f'{a}.q_proj.weight'), w(f'{a}.q_proj.bias'))[0].reshape(sh).transpose(0, 1)
            k = F.linear(t, w(f'{a}.k_proj.weight'), w(f'{a}.k_proj.bias'))[0].reshape(sh).transpose(0, 1)
            v = F.linear(t, w(f'{a}.v_proj.weight'), w(f'{a}.v_proj.bias'))[0].reshape(sh).transpose(0, 1)
            att = torch.softmax((q * head_dim ** -0.5) @ k.transpose(1, 2), dim=-1) @ v  # heads, T, hd
            o = att.transpose(0, 1).reshape(1, T, heads[l] * head_dim)
            return F.linear(o, w(f'{a}.out_proj.weight'), w(f'{a}.out_proj.bias'))

        def feed_forward(t):
            f = f'{p}.feed_forward'
            u = F.gelu(F.linear(t, w(f'{f}.intermediate_dense.weight'), w(f'{f}.intermediate_dense.bias')))
            return F.linear(u, w(f'{f}.output_dense.weight'), w(f'{f}.output_dense.bias'))

        if post_ln:
            if heads[l]:
                y = y + attention(y)
            y = ln(y, f'{p}.layer_norm')
            if ffn[l]:
                y = y + feed_forward(y)
            y = ln(y, f'{p}.final_layer_norm')
        else:
            if heads[l]:
                y = y + attention(ln(y, f'{p}.layer_norm'))
            if ffn[l]:
                y = y + feed_forward(ln(y, f'{p}.final_layer_norm'))
        hs.append(y)
    if not post_ln:
        hs[-1] = ln(hs[-1], f'{tp}.layer_norm')
    return [t[0] for t in hs]


def check_ragged_forward(model, sd):
    """ragged_forward on the dense tiny model equals torchaudio's own forward (float32, ≤ 1e-6)."""
    model.eval()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(1, 2000, generator=g)
    with torch.no_grad():
        ours = ragged_forward(sd, TINY['extractor_conv_layer_config'], [2], [32], 8, 4, 2, True, x[0])
        ta_layers, _ = model.extract_features(x)
        feats, _ = model.feature_extractor(x, None)
        tr = model.encoder.transformer
        proj = model.encoder.feature_projection(feats)
        h0 = tr.layer_norm(proj + tr.pos_conv_embed(proj))
    errs = [(ours[0] - h0[0]).abs().max().item()] + [(ours[i + 1] - t[0]).abs().max().item() for i, t in enumerate(ta_layers)]
    assert len(ta_layers) == 1 and max(errs) <= 1e-6, f'ragged_forward differs from torchaudio by {errs}'
    return max(errs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'ckpt'))
    out = os.path.abspath(ap.parse_args().out)
    os.makedirs(os.path.join(out, 'hf'), exist_ok=True)
    P = lambda *a: os.path.join(out, *a)
    torch.manual_seed(0)

    # ---- the tiny dense model, in every spelling
    model = torchaudio.models.wav2vec2_model(**TINY)
    ta_sd = model.state_dict()  # an OrderedDict with _metadata, as real checkpoints have
    hf_sd = collections.OrderedDict((ta_to_hf(k), v) for k, v in ta_sd.items())
    write_safetensors(P('tiny.hf.safetensors'), hf_sd)
    hf_bin = collections.OrderedDict(hf_sd)
    hf_bin['masked_spec_embed'] = torch.rand(16)
    save(hf_bin, P('hf', 'pytorch_model.bin'))
    write_safetensors(P('hf', 'pytorch_model.bin.raw.safetensors'), hf_bin)
    with open(P('hf', 'config.json'), 'w') as f:
        json.dump(TINY_HF_CONFIG, f, indent=2)

    ctc = collections.OrderedDict(('wav2vec2.' + k, v) for k, v in hf_bin.items())
    ctc['lm_head.weight'] = torch.randn(5, 16)
    ctc['lm_head.bias'] = torch.randn(5)
    save(ctc, P('hf-ctc.bin'))
    write_safetensors(P('hf-ctc.bin.raw.safetensors'), ctc)

    save(ta_sd, P('torchaudio.pt'))
    write_safetensors(P('torchaudio.pt.raw.safetensors'), ta_sd)
    save({'state_dict': ta_sd, 'config': TINY}, P('torchaudio-config.pt'))
    write_safetensors(P('torchaudio-config.pt.raw.safetensors'), ta_sd)

    par = collections.OrderedDict()
    for k, v in hf_sd.items():
        k = k.replace('conv.weight_g', 'conv.parametrizations.weight.original0')
        k = k.replace('conv.weight_v', 'conv.parametrizations.weight.original1')
        par[k] = v
    save(par, P('parametrizations.bin'))
    write_safetensors(P('parametrizations.bin.raw.safetensors'), par)

    save(hf_sd, P('proto4.pt'), pickle_protocol=4)
    write_safetensors(P('proto4.pt.raw.safetensors'), hf_sd)

    # ---- DPHuBERT
    sd, config = dphubert_student(1)
    projs = collections.OrderedDict([('0.weight', torch.randn(4, 16)), ('0.bias', torch.randn(4))])
    save({'state_dict': sd, 'config': config, 'distill_linear_projs': projs}, P('dphubert.pth'))
    write_safetensors(P('dphubert.pth.raw.safetensors'), sd)
    write_safetensors(P('dphubert.hf.safetensors'), collections.OrderedDict((ta_to_hf(k), v) for k, v in sd.items()))

    lsd = collections.OrderedDict()
    for k, v in sd.items():
        lsd['student_model.' + k] = v
    lsd['student_model.encoder.transformer.layers.0.attention.hard_concrete_for_heads.log_alpha'] = torch.randn(2)
    lsd['teacher_model.feature_extractor.conv_layers.0.conv.weight'] = torch.randn(8, 1, 10)
    lsd['distill_linear_projs.0.weight'] = torch.randn(4, 16)
    lsd['lambda1'] = torch.tensor(0.5)
    lsd['lambda2'] = torch.tensor(0.25)
    save({'epoch': 3, 'global_step': 120, 'pytorch-lightning_version': '1.8.6', 'state_dict': lsd,
          'optimizer_states': [{'state': {0: {'exp_avg': torch.zeros(3)}}, 'param_groups': [{'lr': 2e-4}]}],
          'hyper_parameters': {'distill_layers': [0, 4, 8, 12], 'reg_learning_rate': 0.02}}, P('lightning.ckpt'))

    sd, config = dphubert_wavlm(2)
    save({'state_dict': sd, 'config': config}, P('dphubert-wavlm.pth'))
    write_safetensors(P('dphubert-wavlm.pth.raw.safetensors'), sd)
    hf = collections.OrderedDict((ta_to_hf(k), v) for k, v in sd.items() if k != 'feature_extractor.dummy_weight')
    write_safetensors(P('dphubert-wavlm.hf.safetensors'), hf)

    # ---- strided views and dtypes
    g = torch.Generator().manual_seed(3)
    a = torch.randn(4, 6, generator=g)
    views = collections.OrderedDict([
        ('a', a),
        ('a_t', a.t()),
        ('a_cols', a[:, ::2]),
        ('a_row', a[2]),
        ('a_tail', a.view(-1)[5:17].view(3, 4)),
        ('a_perm', a.view(2, 2, 6).permute(2, 0, 1)),
        ('expand', torch.randn(3, generator=g)[1:2].expand(4, 5)),
        ('scalar', torch.tensor(2.5)),
        ('empty', torch.zeros(0, 3)),
        ('f16', torch.randn(3, 5, generator=g).half().t()),
        ('bf16', torch.randn(7, generator=g).bfloat16()[::3]),
        ('f64', torch.randn(2, 3, generator=g).double()),
        ('i64', torch.arange(-3, 9).view(3, 4)[:, 1:]),
        ('i32', torch.arange(6, dtype=torch.int32)),
        ('bool', torch.tensor([True, False, True])),
        ('param', torch.nn.Parameter(torch.randn(2, 2, generator=g))),
    ])
    save(views, P('views.pt'))
    write_safetensors(P('views.pt.raw.safetensors'), views)

    # ---- legacy format
    save(collections.OrderedDict([('w', torch.ones(2))]), P('legacy.pt'), _use_new_zipfile_serialization=False)

    # ---- malicious: GLOBAL os.system + REDUCE, inside an otherwise valid checkpoint (never called here)
    buf = os.path.join(out, '_tmp.pt')
    torch.save({'a': torch.ones(3), 'b': Call(os.system, (f'touch {MARKER}',))}, buf)
    entries = []
    for name, data in zip_entries(buf):
        if name.endswith('/data.pkl'):
            assert b'cposix\nsystem\n' in data
            data = data.replace(b'cposix\nsystem\n', b'cos\nsystem\n')
        entries.append((name.replace('_tmp/', 'malicious/'), data))
    fixed_zip(P('malicious.pt'), entries)
    os.remove(buf)
    # protocol 4: STACK_GLOBAL builtins.exec
    payload = pickle.dumps({'b': Call(exec, (f"open('{MARKER}', 'w').close()",))}, protocol=4)
    assert b'builtins' in payload and b'\x93' in payload
    fixed_zip(P('malicious-proto4.pt'), [('archive/data.pkl', payload), ('archive/version', b'3\n')])

    # ---- malformed
    good = open(P('hf', 'pytorch_model.bin'), 'rb').read()
    open(P('truncated.pt'), 'wb').write(good[:int(len(good) * 0.6)])
    eocd = good.rfind(b'PK\x05\x06')
    bad = bytearray(good)
    struct.pack_into('<I', bad, eocd + 16, len(good) + 1000)
    open(P('bad-cd-offset.pt'), 'wb').write(bytes(bad))
    fixed_zip(P('deflated.pt'), [(n.replace('pytorch_model/', 'deflated/'), d) for n, d in zip_entries(P('hf', 'pytorch_model.bin'))],
              method=zipfile.ZIP_DEFLATED)

    rebuild = torch._utils._rebuild_tensor_v2
    st = torch.arange(24, dtype=torch.float32).storage()
    for name, off, size, stride in [('storage-past-end', 100, (4,), (1,)),
                                    ('shape-overflow', 0, (2 ** 40, 2 ** 40), (2 ** 40, 1)),
                                    ('expand-huge', 0, (2 ** 40,), (0,))]:
        save({'w': Call(rebuild, (st, off, size, stride, False, collections.OrderedDict()))}, P(name + '.pt'))

    # ---- reference hidden states of the pruned DPHuBERT student (after everything else: uses no global RNG)
    err = check_ragged_forward(model, ta_sd)
    sd, config = dphubert_student(1)
    g = torch.Generator().manual_seed(4)
    n = torch.arange(2400, dtype=torch.float64)
    x = (0.5 * torch.sin(2 * torch.pi * 220 * n / 16000) + 0.1 * torch.randn(2400, generator=g, dtype=torch.float64)).float()
    with torch.no_grad():
        hs = ragged_forward(sd, config['extractor_conv_layer_config'], config['encoder_num_heads'],
                            config['encoder_ff_interm_features'], config['encoder_head_dim'],
                            config['encoder_pos_conv_kernel'], config['encoder_pos_conv_groups'],
                            not config['encoder_layer_norm_first'], x.double())
    ref = collections.OrderedDict([('input', x)] + [(f'hidden.{i}', t.float().contiguous()) for i, t in enumerate(hs)])
    write_safetensors(P('dphubert-ref.safetensors'), ref)
    print(f'ragged_forward vs torchaudio (dense tiny): max |diff| {err:.2e}')

    for f in sorted(os.listdir(out)):
        if os.path.isfile(P(f)):
            print(f'{os.path.getsize(P(f)):8d}  {f}')


if __name__ == '__main__':
    sys.exit(main())
