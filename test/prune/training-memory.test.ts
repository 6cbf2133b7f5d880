// One training-memory mechanism (prune/ops.ts Workspace): the student's activations, its backward scratch and the
// ops' scratch all come from it. reserve() grows memory by exactly the student's memoryPlan(); a forward and backward
// then add only the ops' own scratch, through the same Workspace; repeating them (or a shorter crop, or the layer-wise
// functions) touches nothing new.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Student, gateValues, trainingRuntime } from '../../src/prune/student.js';
import { Workspace } from '../../src/prune/ops.js';
import { LinearMemory } from '../../src/runtime/memory.js';
import { instantiateKernels } from '../../src/runtime/wasm.js';
import { fixtureModel } from '../ref/fixtures.js';

const s = suite('training memory');
const wave = (n: number) => Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin(i * 0.013) + 0.2 * Math.sin(i * 0.31));

s('Workspace: a group is one ArenaPlan block, planned again only when a size grows', async () => {
  const kk = await instantiateKernels('release');
  const mem = new LinearMemory(kk.memory, kk.heapBase);
  const ws = new Workspace(mem);
  const top = mem.top;
  const a = ws.plan('g', { x: 10, y: 0, z: 3 });
  assert.is(a.y, 0, 'size 0: absent');
  assert.is(mem.top - top, Workspace.bytes({ x: 10, y: 0, z: 3 }));
  assert.is(ws.bytes, mem.top - top);
  assert.equal(ws.plan('g', { x: 8, y: 0, z: 3 }), a, 'smaller: the same buffers');
  const b = ws.plan('g', { x: 20, y: 0, z: 3 });
  assert.ok(b.x !== a.x && b.x >= top + Workspace.bytes({ x: 10, z: 3 }), 'larger: a new block after the old one');
  assert.is(ws.bytes, mem.top - top);
  assert.ok(ws.get('one', 0) > 0, 'get never hands out pointer 0');
});

for (const name of ['tiny-w2v-group', 'tiny-hubert-layer-preln', 'wavlm-ragged-a']) {
  s(`${name}: reserve() takes exactly memoryPlan(); forward/backward only add the ops' scratch, through the Workspace`, async () => {
    const { config, tensors, cfg } = fixtureModel(name);
    const rt = await trainingRuntime(1);
    try {
      const st = Student.create(config, tensors, rt.exec, rt.mem);
      const ws = st.ops.ws, mem = rt.mem;
      const n = 4000;
      const top0 = mem.top, b0 = ws.bytes;
      st.reserve(n);
      assert.is(mem.top - top0, st.memoryPlan(n), 'reserve = the plan');
      assert.is(ws.bytes - b0, mem.top - top0, 'all through the Workspace');
      assert.ok(mem.memory.buffer.byteLength >= mem.top);

      const T = st.frames(n), TD = T * cfg.hidden, L = cfg.numLayers;
      const g = gateValues(cfg), dz = gateValues(cfg, 0);
      const dH = [Float32Array.from({ length: TD }, (_, i) => Math.cos(i * 0.1))];
      const pass = (len: number) => {
        const f = st.forward(wave(len), g, [L]);
        st.backward([dH[0].subarray(0, f.frames * cfg.hidden)], dz);
      };
      const top1 = mem.top, b1 = ws.bytes;
      pass(n);
      assert.is(mem.top - top1, ws.bytes - b1, 'the ops\' scratch comes from the same Workspace');
      const top2 = mem.top;
      pass(n);
      pass(n - 700);
      const proj = st.forwardFront(wave(n), g);
      st.backwardFront(proj, dz);
      const h0 = st.forwardPos(proj);
      st.backwardPos(h0);
      if (L > 0) st.backwardLayer(0, st.forwardLayer(0, h0, g), dz);
      assert.is(mem.top, top2, 'nothing new for the same or a shorter crop');

      // a longer crop: every group is planned again for it, the activations and scratch by exactly the plan
      const top3 = mem.top;
      st.reserve(2 * n);
      assert.is(mem.top - top3, st.memoryPlan(2 * n));
    } finally {
      rt.dispose();
    }
  });
}

s.run();
