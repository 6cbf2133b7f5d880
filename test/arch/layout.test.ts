// Irregular layouts: malformed configs refused naming the layer; inspect's counts equal independent counts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig, SlimwavError, buildModel } from '../../src/index.js';
import { parseSafetensors } from '../../src/format/safetensors.js';
import { FIXTURES } from '../ref/fixtures.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'slimwav.js');
const RAGGED = readdirSync(FIXTURES).filter((d) => d.startsWith('ragged-') || d.startsWith('wavlm-ragged'));
const cfgOf = (d: string) => JSON.parse(readFileSync(join(FIXTURES, d, 'config.json'), 'utf8'));
const tensorsOf = (d: string) => parseSafetensors(new Uint8Array(readFileSync(join(FIXTURES, d, 'model.safetensors'))), d).tensors;

const bad = suite('malformed layouts');
const base = () => cfgOf('ragged-w2v-a');
function refusedConfig(edit: (c: any) => void, ...words: string[]) {
  const c = base();
  edit(c);
  try {
    parseConfig(c, 'config.json');
    assert.unreachable('accepted');
  } catch (err) {
    assert.instance(err, SlimwavError);
    assert.is((err as SlimwavError).code, 'E_CONFIG');
    for (const w of words) assert.ok((err as Error).message.includes(w), `"${(err as Error).message}" lacks "${w}"`);
  }
}
bad('only some pruning keys', () => refusedConfig((c) => delete c.layer_head_v_dims, 'layer_head_v_dims'));
bad('list length ≠ layers', () => refusedConfig((c) => c.layer_heads.pop(), 'layer_heads', '3'));
bad('qk widths ≠ kept heads', () => refusedConfig((c) => c.layer_head_qk_dims[2].pop(), 'layer 2', '3 kept heads'));
bad('head index out of range', () => refusedConfig((c) => { c.layer_heads[0] = [2, 4]; }, 'layer 0', 'head index 4'));
bad('heads not ascending', () => refusedConfig((c) => { c.layer_heads[0] = [3, 2]; }, 'layer 0', 'ascending'));
bad('qk width above head_dim', () => refusedConfig((c) => { c.layer_head_qk_dims[0][0] = 13; }, 'layer 0', '0..12'));
bad('value width 0', () => refusedConfig((c) => { c.layer_head_v_dims[2][1] = 0; }, 'layer 2', '1..12'));
bad('negative FFN width', () => refusedConfig((c) => { c.layer_intermediate_sizes[1] = -1; }, 'layer_intermediate_sizes'));
bad('tensors disagree with the layout', async () => {
  const c = base();
  c.layer_head_v_dims[0] = [7, 9];
  try {
    await buildModel(c, tensorsOf('ragged-w2v-a'), 'model.safetensors', []);
    assert.unreachable('accepted');
  } catch (err) {
    assert.is((err as SlimwavError).code, 'E_SHAPE');
    assert.match((err as Error).message, /encoder\.layers\.0\.attention\.(v_proj|out_proj)/);
  }
});
bad.run();

// ---
const counts = suite('inspect counts on irregular layouts');
for (const d of RAGGED) {
  counts(`${d}: params and MACs equal an independent count`, () => {
    const r = spawnSync(process.execPath, [BIN, 'inspect', join(FIXTURES, d), '--json'], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const c = cfgOf(d);
    let params = 0;
    for (const t of tensorsOf(d).values()) params += t.shape.reduce((a: number, b: number) => a * b, 1);
    assert.is(j.params, params);
    // MACs for one second: conv GEMMs, projection, pos conv, per head q/k/v/out and scores/values, FFN (+ WavLM gate)
    let len = 16000, cin = 1, macs = 0;
    c.conv_dim.forEach((ch: number, i: number) => {
      len = Math.floor((len - c.conv_kernel[i]) / c.conv_stride[i]) + 1;
      macs += len * ch * cin * c.conv_kernel[i];
      cin = ch;
    });
    const T = len, D = c.hidden_size, H = c.num_attention_heads;
    macs += T * cin * D + T * D * (D / c.num_conv_pos_embedding_groups) * c.num_conv_pos_embeddings;
    const wavlmBias = c.model_type === 'wavlm' && c.layer_heads[0].length > 0;
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const qk = c.layer_head_qk_dims[l].reduce((a: number, b: number) => a + b, 0);
      const v = c.layer_head_v_dims[l].reduce((a: number, b: number) => a + b, 0);
      macs += 2 * T * D * qk + 2 * T * D * v + T * T * (qk + v) + 2 * T * D * c.layer_intermediate_sizes[l];
      if (wavlmBias && c.layer_heads[l].length > 0) macs += T * H * (D / H) * 8;
    }
    assert.is(j.macs_per_second, macs);
    assert.equal(j.layers.map((L: any) => L.heads), c.layer_heads);
    assert.equal(j.layers.map((L: any) => L.ffn), c.layer_intermediate_sizes);
    const text = spawnSync(process.execPath, [BIN, 'inspect', join(FIXTURES, d)], { encoding: 'utf8' });
    assert.match(text.stdout, /pruned layout/);
  });
}
counts.run();
