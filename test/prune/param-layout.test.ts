// The student's parameter layout (prune/param-layout.ts): every trainable tensor of the binding exactly once, no two
// blocks overlapping, 16-float alignment except inside the fused q|k|v, the Student's params() and flat region are
// that layout, and checkpoint metadata recognises it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../../src/arch/config.js';
import { bindWeights, TensorNames, weightsToTensors } from '../../src/arch/binding.js';
import { numel } from '../../src/format/tensor.js';
import { compact } from '../../src/prune/compact.js';
import { layoutMeta, layoutSignature, sameLayout, studentParamLayout } from '../../src/prune/param-layout.js';
import { Student, gateValues, gatesToMasks, trainingRuntime } from '../../src/prune/student.js';
import { fixtureModel } from '../ref/fixtures.js';

const s = suite('student parameter layout');
const N = TensorNames;

/** a compacted ragged-w2v-a whose last conv layer lost channels: virtual zeros, pruned_channel_weight, padded blocks */
function virtualZeros() {
  const { config, tensors, cfg } = fixtureModel('ragged-w2v-a');
  const g = gateValues(cfg, 1);
  const last = g.conv[g.conv.length - 1];
  for (let j = 1; j < last.length; j += 3) last[j] = 0;
  const c = compact(config, tensors, gatesToMasks(config, g));
  return { config: c.config, tensors: c.tensors, cfg: parseConfig(c.config) };
}

const cases: [string, () => { config: Record<string, unknown>; tensors: ReturnType<typeof fixtureModel>['tensors']; cfg: ReturnType<typeof parseConfig> }][] = [
  ...['tiny-w2v-group', 'tiny-hubert-layer-preln', 'ragged-w2v-a', 'wavlm-ragged-a'].map((n) => [n, () => fixtureModel(n)] as [string, typeof virtualZeros]),
  ['compacted last conv layer (virtual zeros)', virtualZeros],
];

for (const [name, load] of cases) {
  s(`${name}: every trainable tensor of the binding exactly once, no overlap`, () => {
    const { cfg, tensors } = load();
    const w = bindWeights(cfg, tensors);
    const layout = studentParamLayout(cfg, w);
    const blocks = layout.blocks.filter((b) => b.size > 0);

    // the binding's tensor list (Hugging Face names, F32): the weight-norm spelling is trained as the folded
    // weight, pruned_channel_weight lives in the padded projection columns
    const hf = weightsToTensors(w);
    const expected = new Set([...hf].filter(([, t]) => numel(t.shape) > 0).map(([n]) => n));
    if (expected.delete(N.posConvWeightG) && expected.delete(N.posConvWeightV)) expected.add(`${N.posConv}.weight`);
    const padded = expected.delete(N.prunedChannelWeight);
    assert.equal(blocks.map((b) => b.name).sort(), [...expected].sort(), 'one block per tensor');
    assert.is(padded, w.front.virtualZeros && !!w.front.prunedChannelWeight);

    const extra = layout.cTot - layout.cIn;
    for (const b of blocks) {
      assert.is(b.size, b.shape.reduce((x, y) => x * y, 1), `${b.name} size = its shape`);
      assert.is(b.values().length, b.size, `${b.name} values`);
      const t = hf.get(b.name === `${N.posConv}.weight` && !hf.has(b.name) ? N.posConvWeightV : b.name)!;
      // same number of values as the tensor, plus the virtual channels of padded blocks
      const pad = b.layout !== 'padded' ? 0 : b.name === `${N.proj}.weight` ? cfg.hidden * extra : extra;
      assert.is(b.size, numel(t.shape) + pad, `${b.name}: ${b.layout}`);
      if (b.layout === 'padded') assert.ok(extra > 0);
    }

    // laid out in order, aligned, fused parts back to back, inside the region, no overlap
    let end = 0;
    for (const b of layout.blocks) {
      if (b.fused) assert.ok(b.offset === end, `${b.name} continues the fused block`);
      else assert.is(b.offset % 16, 0, `${b.name} aligned`);
      assert.ok(b.offset >= end, `${b.name} starts at ${b.offset}, after the previous block's end ${end}`);
      end = b.offset + b.size;
    }
    assert.ok(end <= layout.total && layout.total % 16 === 0 && layout.total - end < 16, `region ${layout.total} for ${end}`);
    const owner = new Int32Array(layout.total).fill(-1);
    blocks.forEach((b, i) => {
      for (let j = b.offset; j < b.offset + b.size; j++) {
        assert.is(owner[j], -1, `float ${j} of ${b.name} already belongs to ${owner[j] >= 0 ? blocks[owner[j]].name : ''}`);
        owner[j] = i;
      }
    });
  });
}

s('the Student is laid out by it; checkpoint metadata recognises it', async () => {
  const rt = await trainingRuntime(1);
  try {
    const a = fixtureModel('ragged-w2v-a'), b = virtualZeros();
    const st = Student.create(a.config, a.tensors, rt.exec, rt.mem);
    const layout = studentParamLayout(a.cfg, bindWeights(a.cfg, a.tensors));
    assert.is(st.flat.size, layout.total);
    assert.equal(st.params().map((p) => [p.name, p.ptr, p.grad, p.size, p.layout]),
      layout.blocks.filter((x) => x.size > 0).map((x) => [x.name, st.flat.ptr + x.offset * 4, st.flat.grad + x.offset * 4, x.size, x.layout]));
    // the values in memory are the blocks' values
    for (const p of st.params().slice(0, 3)) {
      const blk = layout.blocks.find((x) => x.name === p.name)!;
      assert.equal(Array.from(rt.mem.f32(p.ptr, p.size)), Array.from(blk.values()), p.name);
    }
    const other = studentParamLayout(b.cfg, bindWeights(b.cfg, b.tensors));
    assert.ok(sameLayout(layoutMeta(layout), st.layout));
    assert.not.ok(sameLayout(layoutMeta(other), st.layout));
    assert.not.ok(sameLayout({ flat: layout.total, layout: 'x' }, st.layout));
    assert.ok(sameLayout({ flat: layout.total }, st.layout), 'a checkpoint without a signature: by size');
    assert.is.not(layoutSignature(layout), layoutSignature(other));
  } finally {
    rt.dispose();
  }
});

s.run();
