import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SlimwavError, type ErrorCode } from '../../src/errors.js';
import * as wav from '../../src/format/wav.js';
import { decodeWav, encodeWav } from '../../src/format/wav.js';
import { throwsCode } from '../ref/assert.js';

const FILE = 'clips/bad.wav';

// Hand-built files, independent of encodeWav ------------------------------------------------------------------

type Chunk = [id: string, body: Uint8Array, sizeOverride?: number];

function chunk(id: string, body: Uint8Array | number[], sizeOverride?: number): Chunk {
  return [id, body instanceof Uint8Array ? body : new Uint8Array(body), sizeOverride];
}

/** RIFF/WAVE with the given chunks, each padded to an even length as the spec says. */
function riff(chunks: Chunk[], magic = 'RIFF', form = 'WAVE'): Uint8Array {
  const parts: number[] = [];
  const ascii = (s: string) => { for (const c of s) parts.push(c.charCodeAt(0)); };
  const u32 = (v: number) => parts.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  ascii(magic);
  u32(0); // patched below
  ascii(form);
  for (const [id, body, size] of chunks) {
    ascii(id);
    u32(size ?? body.length);
    parts.push(...body);
    if (body.length & 1) parts.push(0);
  }
  const out = new Uint8Array(parts);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}

function fmt(o: { tag?: number; channels?: number; rate?: number; bits?: number; blockAlign?: number; ext?: { sub: number; guidTail?: number[] } }): Chunk {
  const channels = o.channels ?? 1, rate = o.rate ?? 16000, bits = o.bits ?? 16;
  const blockAlign = o.blockAlign ?? channels * (bits / 8);
  const b = new Uint8Array(o.ext ? 40 : 16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, o.ext ? 0xfffe : (o.tag ?? 1), true);
  dv.setUint16(2, channels, true);
  dv.setUint32(4, rate, true);
  dv.setUint32(8, rate * blockAlign, true);
  dv.setUint16(12, blockAlign, true);
  dv.setUint16(14, bits, true);
  if (o.ext) {
    dv.setUint16(16, 22, true);
    dv.setUint16(18, bits, true);
    dv.setUint32(20, channels === 2 ? 3 : 4, true);
    dv.setUint16(24, o.ext.sub, true);
    b.set(o.ext.guidTail ?? [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  }
  return chunk('fmt ', b);
}

function le16(...v: number[]): number[] { return v.flatMap((x) => [x & 0xff, (x >> 8) & 0xff]); }

// ---

const exportsSuite = suite('exports');
exportsSuite('functions', () => {
  assert.type(wav.decodeWav, 'function');
  assert.type(wav.encodeWav, 'function');
});
exportsSuite.run();

// ---

const exact = suite('decodeWav exact values');

exact('16-bit: 16384 → 0.5, −32768 → −1, 32767 → 32767/32768', () => {
  const w = decodeWav(riff([fmt({ bits: 16, rate: 22050 }), chunk('data', le16(16384, -32768 & 0xffff, 32767, 0, 0xffff))]), FILE);
  assert.is(w.sampleRate, 22050);
  assert.is(w.channels, 1);
  assert.is(w.frames, 5);
  assert.equal([...w.data], [0.5, -1, 32767 / 32768, 0, -1 / 32768]);
});

exact('8-bit unsigned: 0 → −1, 128 → 0, 255 → 127/128, 192 → 0.5', () => {
  const w = decodeWav(riff([fmt({ bits: 8 }), chunk('data', [0, 128, 255, 192, 64])]), FILE);
  assert.equal([...w.data], [-1, 0, 127 / 128, 0.5, -0.5]);
});

exact('24-bit sign extension: 0x800000 → −1, 0x7fffff → max, 0x400000 → 0.5, 0xffffff → −2^-23', () => {
  const data = [0x00, 0x00, 0x80, 0xff, 0xff, 0x7f, 0x00, 0x00, 0x40, 0xff, 0xff, 0xff, 0x00, 0x00, 0xc0];
  const w = decodeWav(riff([fmt({ bits: 24 }), chunk('data', data)]), FILE);
  assert.equal([...w.data], [-1, Math.fround(8388607 / 8388608), 0.5, -(2 ** -23), -0.5]);
});

exact('32-bit integer and 32/64-bit float', () => {
  const i32 = new Uint8Array(new Int32Array([0x40000000, -0x80000000, -0x20000000]).buffer);
  assert.equal([...decodeWav(riff([fmt({ bits: 32 }), chunk('data', i32)]), FILE).data], [0.5, -1, -0.25]);
  const f32 = new Uint8Array(new Float32Array([0.25, -1.5, 3]).buffer);
  assert.equal([...decodeWav(riff([fmt({ tag: 3, bits: 32 }), chunk('data', f32)]), FILE).data], [0.25, -1.5, 3]);
  const f64 = new Uint8Array(new Float64Array([0.125, -0.75]).buffer);
  assert.equal([...decodeWav(riff([fmt({ tag: 3, bits: 64 }), chunk('data', f64)]), FILE).data], [0.125, -0.75]);
});

exact('stereo and 3 channels are averaged per frame', () => {
  const w = decodeWav(riff([fmt({ bits: 16, channels: 2 }), chunk('data', le16(16384, (-8192) & 0xffff, 0, 32767))]), FILE);
  assert.is(w.channels, 2);
  assert.is(w.frames, 2);
  assert.equal([...w.data], [0.125, Math.fround(32767 / 65536)]);
  const f = new Uint8Array(new Float32Array([0.3, 0.6, 0.9, -3, 0, 0]).buffer);
  const w3 = decodeWav(riff([fmt({ tag: 3, bits: 32, channels: 3 }), chunk('data', f)]), FILE);
  assert.equal([...w3.data], [Math.fround((Math.fround(0.3) + Math.fround(0.6) + Math.fround(0.9)) / 3), -1]);
});

exact('WAVE_FORMAT_EXTENSIBLE with PCM and float sub-formats', () => {
  const w = decodeWav(riff([fmt({ bits: 24, channels: 2, ext: { sub: 1 } }), chunk('data', [0, 0, 0x80, 0, 0, 0x40])]), FILE);
  assert.equal([...w.data], [-0.25]);
  const f = new Uint8Array(new Float32Array([0.5, 1]).buffer);
  assert.equal([...decodeWav(riff([fmt({ bits: 32, ext: { sub: 3 } }), chunk('data', f)]), FILE).data], [0.5, 1]);
});

exact.run();

// ---

const chunks = suite('decodeWav chunk walking');

chunks('unknown chunks skipped, odd sizes padded, chunks after data ignored', () => {
  const w = decodeWav(riff([
    chunk('JUNK', [1, 2, 3]),                // odd: pad byte follows
    fmt({ bits: 16 }),
    chunk('LIST', [0x49, 0x4e, 0x46, 0x4f, 9]), // odd again
    chunk('data', le16(16384)),
    chunk('id3 ', [1, 2, 3, 4]),
  ]), FILE);
  assert.equal([...w.data], [0.5]);
});

chunks('fmt chunk longer than 16 bytes (cbSize) is fine', () => {
  const [, body] = fmt({ bits: 16 });
  const long = new Uint8Array(18);
  long.set(body);
  assert.equal([...decodeWav(riff([chunk('fmt ', long), chunk('data', le16(8192))]), FILE).data], [0.25]);
});

chunks('streaming writers: data size 0 or 0xFFFFFFFF means "to the end of the file"', () => {
  for (const size of [0, 0xffffffff]) {
    const w = decodeWav(riff([fmt({ bits: 16 }), chunk('data', le16(16384, 8192, 4096), size)]), FILE);
    assert.equal([...w.data], [0.5, 0.25, 0.125], `size ${size}`);
  }
});

chunks('a trailing partial frame is dropped', () => {
  const w = decodeWav(riff([fmt({ bits: 16, channels: 2 }), chunk('data', [...le16(16384, 16384), 7, 7], 0)]), FILE);
  assert.is(w.frames, 1);
  assert.equal([...w.data], [0.5]);
});

chunks('empty data chunk decodes to 0 frames (decodeAudio is the one that refuses it)', () => {
  const w = decodeWav(riff([fmt({ bits: 16 }), chunk('data', [])]), FILE);
  assert.is(w.frames, 0);
  assert.is(w.data.length, 0);
});

chunks.run();

// ---

const refuse = suite('decodeWav refuses');

refuse('not RIFF/WAVE, too short, big-endian and RF64', () => {
  throwsCode(() => decodeWav(new Uint8Array(8), FILE), 'E_FORMAT', FILE, 'too short');
  throwsCode(() => decodeWav(new TextEncoder().encode('OggS0000WAVEfmt '), FILE), 'E_FORMAT', FILE, 'not a WAV', 'OggS');
  throwsCode(() => decodeWav(riff([fmt({})], 'RIFF', 'AVI '), FILE), 'E_FORMAT', FILE, 'AVI');
  throwsCode(() => decodeWav(riff([fmt({})], 'RIFX'), FILE), 'E_AUDIO', FILE, 'RIFX');
  throwsCode(() => decodeWav(riff([fmt({})], 'RF64'), FILE), 'E_AUDIO', FILE, 'RF64');
});

refuse('missing fmt, missing data, data before fmt, two fmt chunks', () => {
  throwsCode(() => decodeWav(riff([chunk('LIST', [1, 2])]), FILE), 'E_FORMAT', FILE, 'no "fmt "');
  throwsCode(() => decodeWav(riff([fmt({})]), FILE), 'E_FORMAT', FILE, 'no "data"');
  throwsCode(() => decodeWav(riff([chunk('data', le16(1)), fmt({})]), FILE), 'E_FORMAT', FILE, 'before the "fmt "');
  throwsCode(() => decodeWav(riff([fmt({}), fmt({}), chunk('data', le16(1))]), FILE), 'E_FORMAT', FILE, 'two "fmt "');
});

refuse('truncated data, truncated chunks, short fmt', () => {
  const full = riff([fmt({ bits: 16 }), chunk('data', le16(1, 2, 3, 4))]);
  throwsCode(() => decodeWav(full.subarray(0, full.length - 2), FILE), 'E_FORMAT', FILE, '"data" chunk says 8 bytes but only 6 remain');
  throwsCode(() => decodeWav(riff([fmt({}), chunk('data', le16(1), 1000)]), FILE), 'E_FORMAT', FILE, 'truncated');
  throwsCode(() => decodeWav(riff([chunk('LIST', [1, 2], 500), fmt({})]), FILE), 'E_FORMAT', FILE, '"LIST"', 'truncated');
  throwsCode(() => decodeWav(riff([chunk('fmt ', [1, 0, 1, 0]), chunk('data', [])]), FILE), 'E_FORMAT', FILE, 'at least 16');
  throwsCode(() => decodeWav(full.subarray(0, 30), FILE), 'E_FORMAT', FILE, '"fmt "', 'truncated');
});

refuse('compressed formats name the tag (E_AUDIO)', () => {
  const cases: [number, string][] = [[7, 'μ-law'], [6, 'A-law'], [2, 'ADPCM'], [0x11, 'IMA ADPCM'], [0x55, 'MP3'], [0x1234, '0x1234']];
  for (const [tag, name] of cases) {
    throwsCode(() => decodeWav(riff([fmt({ tag, bits: 8 }), chunk('data', [1, 2])]), FILE), 'E_AUDIO', FILE, name, 'convert to PCM');
  }
  throwsCode(() => decodeWav(riff([fmt({ bits: 8, ext: { sub: 7 } }), chunk('data', [1])]), FILE), 'E_AUDIO', FILE, 'μ-law');
  throwsCode(() => decodeWav(riff([fmt({ bits: 16, ext: { sub: 1, guidTail: new Array(14).fill(7) } }), chunk('data', le16(1))]), FILE), 'E_AUDIO', FILE, 'GUID');
  throwsCode(() => decodeWav(riff([chunk('fmt ', [0xfe, 0xff, 1, 0, 0x80, 0x3e, 0, 0, 0, 0, 0, 0, 2, 0, 16, 0]), chunk('data', [])]), FILE), 'E_FORMAT', FILE, 'at least 40');
});

refuse('0 channels, 0 Hz, unsupported bit depths, block-align mismatch', () => {
  throwsCode(() => decodeWav(riff([fmt({ channels: 0, blockAlign: 2 }), chunk('data', [])]), FILE), 'E_FORMAT', FILE, '0 channels');
  throwsCode(() => decodeWav(riff([fmt({ rate: 0 }), chunk('data', [])]), FILE), 'E_FORMAT', FILE, '0 Hz');
  throwsCode(() => decodeWav(riff([fmt({ bits: 12, blockAlign: 2 }), chunk('data', [])]), FILE), 'E_AUDIO', FILE, '12 bits');
  throwsCode(() => decodeWav(riff([fmt({ tag: 3, bits: 16 }), chunk('data', [])]), FILE), 'E_AUDIO', FILE, 'float', '16 bits');
  throwsCode(() => decodeWav(riff([fmt({ bits: 16, channels: 2, blockAlign: 2 }), chunk('data', [])]), FILE), 'E_FORMAT', FILE, 'block align is 2, expected 4');
});

refuse.run();

// ---

const enc = suite('encodeWav');

const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.9 + (i % 3 === 0 ? 0.05 : -0.05));

enc('round trips for every depth, within one quantisation step', () => {
  const x = ramp(101);
  const cases: [8 | 16 | 24 | 32 | 64, boolean, number][] = [
    [8, false, 1 / 256], [16, false, 1 / 65536], [24, false, 2 ** -24], [32, false, 2 ** -25], [32, true, 0], [64, true, 0],
  ];
  for (const [bitDepth, float, tol] of cases) {
    const bytes = encodeWav(x, 44100, { bitDepth, float });
    const w = decodeWav(bytes, 'rt.wav');
    assert.is(w.sampleRate, 44100);
    assert.is(w.frames, x.length);
    let err = 0;
    for (let i = 0; i < x.length; i++) err = Math.max(err, Math.abs(w.data[i] - x[i]));
    assert.ok(err <= tol, `${bitDepth}${float ? 'f' : ''}: max error ${err} > ${tol}`);
  }
});

enc('canonical header bytes', () => {
  const b = encodeWav(new Float32Array([0.5, -1]), 16000, { bitDepth: 16 });
  const dv = new DataView(b.buffer);
  assert.is(b.length, 48);
  assert.is(new TextDecoder().decode(b.subarray(0, 16)), 'RIFF(\0\0\0WAVEfmt ');
  assert.equal([dv.getUint16(20, true), dv.getUint16(22, true), dv.getUint32(24, true), dv.getUint32(28, true), dv.getUint16(32, true), dv.getUint16(34, true)], [1, 1, 16000, 32000, 2, 16]);
  assert.equal([dv.getInt16(44, true), dv.getInt16(46, true)], [16384, -32768]);
});

enc('clipping and rounding of integer output', () => {
  const b = encodeWav(new Float32Array([1, 2, -2, 0.5 / 32768, -0.6 / 32768]), 8000, { bitDepth: 16 });
  const dv = new DataView(b.buffer);
  assert.equal([0, 1, 2, 3, 4].map((i) => dv.getInt16(44 + 2 * i, true)), [32767, 32767, -32768, 1, -1]);
});

enc('interleaved stereo input is averaged on decode; odd-length 8-bit data gets a pad byte', () => {
  const w = decodeWav(encodeWav(new Float32Array([0.5, 0, -0.5, -0.25]), 48000, { bitDepth: 32, float: true, channels: 2 }), 's.wav');
  assert.equal([w.channels, w.frames], [2, 2]);
  assert.equal([...w.data], [0.25, -0.375]);
  const odd = encodeWav(new Float32Array([0, 0, 0]), 8000, { bitDepth: 8 });
  assert.is(odd.length, 44 + 3 + 1);
  assert.is(decodeWav(odd, 'o.wav').frames, 3);
});

enc('argument errors are E_ARGS', () => {
  throwsCode(() => encodeWav(new Float32Array(3), 16000, { bitDepth: 16, channels: 2 }), 'E_ARGS', 'channel');
  throwsCode(() => encodeWav(new Float32Array(2), 16000, { bitDepth: 16, float: true }), 'E_ARGS', '16');
  throwsCode(() => encodeWav(new Float32Array(2), 16000, { bitDepth: 64 }), 'E_ARGS', '64');
  throwsCode(() => encodeWav(new Float32Array(2), 0, { bitDepth: 16 }), 'E_ARGS', 'rate');
});

enc.run();

// ---

const fuzz = suite('decodeWav fuzz');

function decodeOrSlimwavError(b: Uint8Array): void {
  let w: wav.DecodedWav;
  try {
    w = decodeWav(b, 'fuzz.wav');
  } catch (e) {
    if (e instanceof SlimwavError) {
      assert.ok(e.message.startsWith('fuzz.wav: '), e.message);
      return;
    }
    throw e;
  }
  assert.is(w.data.length, w.frames);
  assert.ok(w.channels >= 1 && w.sampleRate >= 1);
  assert.ok(w.frames * w.channels <= b.length, 'never more samples than bytes');
}

const validFiles = [
  encodeWav(ramp(40), 16000, { bitDepth: 16, channels: 2 }),
  encodeWav(ramp(21), 44100, { bitDepth: 24 }),
  encodeWav(ramp(10), 8000, { bitDepth: 64, float: true }),
  riff([chunk('JUNK', [1, 2, 3]), fmt({ bits: 32, ext: { sub: 3 } }), chunk('LIST', [1]), chunk('data', new Uint8Array(new Float32Array([0.5, 1]).buffer), 0)]),
];

fuzz('random mutations of valid files (property)', () => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(120) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(120), value: fc.integer({ min: 0, max: 255 }) }),
    // hit the header fields (sizes, tag, channels, block align, bits) more often than the samples
    fc.record({ kind: fc.constant('header' as const), at: fc.nat(60), value: fc.constantFrom(0, 1, 2, 3, 7, 8, 16, 24, 0x80, 0xfe, 0xff) }),
    fc.record({ kind: fc.constant('u32' as const), at: fc.nat(60), value: fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 1000, 3) }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...validFiles), fc.array(mutation, { minLength: 1, maxLength: 4 }), (file, ms) => {
      let b = file.slice();
      for (const m of ms) {
        if (m.kind === 'truncate') b = b.slice(0, Math.min(m.at, b.length));
        else if (b.length === 0) continue;
        else if (m.kind === 'u32') { if (b.length >= 4) new DataView(b.buffer).setUint32(m.at % (b.length - 3), m.value, true); }
        else b[m.at % b.length] = m.value;
      }
      decodeOrSlimwavError(b);
    }),
    { numRuns: 2000 },
  );
});

fuzz('random bytes behind a RIFF/WAVE/fmt prefix (property)', () => {
  const prefix = new TextEncoder().encode('RIFF\0\0\0\0WAVE');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (tail, withFmt) => {
      const head = withFmt ? riff([fmt({ bits: 16 })]) : prefix;
      const b = new Uint8Array(head.length + tail.length);
      b.set(head);
      b.set(tail, head.length);
      decodeOrSlimwavError(b);
    }),
    { numRuns: 500 },
  );
});

fuzz.run();
