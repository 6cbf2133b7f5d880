import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { SlimwavError, type ErrorCode } from '../../src/errors.js';
import * as json from '../../src/format/json.js';
import { parseJson, parseJsonBytes, decodeUtf8 } from '../../src/format/json.js';
import { throwsCode } from '../ref/assert.js';

// ---

const exportsSuite = suite('exports');
exportsSuite('functions', () => {
  for (const f of ['parseJson', 'parseJsonBytes', 'decodeUtf8', 'isJsonObject'] as const) assert.type(json[f], 'function');
});
exportsSuite.run();

// ---

const parse = suite('parseJson');

parse('values, escapes and key order', () => {
  const v = parseJson(' {"b": [1, -2.5e3, 0.125, true, false, null], "a": "x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"} ', 'c.json');
  assert.equal(v, { b: [1, -2500, 0.125, true, false, null], a: 'x"\\/\b\f\n\r\té😀' });
  assert.equal(Object.keys(v as object), ['b', 'a']);
});

parse('__proto__ is an own property, not the prototype', () => {
  const v = parseJson('{"__proto__": {"polluted": 1}}', 'c.json') as Record<string, unknown>;
  assert.equal(Object.keys(v), ['__proto__']);
  assert.is(Object.getPrototypeOf(v), Object.prototype);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

parse('duplicate keys are refused at every level', () => {
  throwsCode(() => parseJson('{"a": 1, "a": 2}', 'h.json'), 'E_FORMAT', 'h.json', '"a"', 'twice');
  throwsCode(() => parseJson('{"t": {"dtype": "F32", "dtype": "F16"}}', 'h.json'), 'E_FORMAT', 'h.json', '"dtype"');
  throwsCode(() => parseJson('[{"x": 1, "y": 2, "x": 3}]', 'h.json'), 'E_FORMAT', '"x"');
  // the same key in sibling objects is fine
  assert.equal(parseJson('[{"x": 1}, {"x": 2}]', 'h.json'), [{ x: 1 }, { x: 2 }]);
});

parse('syntax errors name the file and the offset', () => {
  const bad = ['', '{', '{"a" 1}', '{"a": 1,}', '[1,]', '01', '1.', '.5', '+1', 'NaN', '"\\x"', '"\\u12"', '"a\nb"',
    "{'a': 1}", '{"a": 1} x', 'tru', '"unterminated', '[1 2]', '{1: 2}'];
  for (const s of bad) throwsCode(() => parseJson(s, 'cfg.json', 'config'), 'E_FORMAT', 'cfg.json', 'config');
  throwsCode(() => parseJson('{"a": 1,}', 'x.json'), 'E_FORMAT', 'offset 8');
});

parse('deep nesting is an E_FORMAT, not a stack overflow', () => {
  throwsCode(() => parseJson('['.repeat(100000), 'deep.json'), 'E_FORMAT', 'deep.json', 'deeper');
  assert.equal(parseJson('['.repeat(200) + ']'.repeat(200), 'ok.json') instanceof Array, true);
});

parse('bytes: strict UTF-8, BOM dropped', () => {
  assert.equal(parseJsonBytes(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'b.json'), {});
  throwsCode(() => parseJsonBytes(new Uint8Array([0x22, 0xc3, 0x28, 0x22]), 'b.json', 'header'), 'E_FORMAT', 'b.json', 'UTF-8');
  assert.is(decodeUtf8(new TextEncoder().encode('ünï'), 'u'), 'ünï');
});

parse('agrees with JSON.parse on valid JSON (property)', () => {
  fc.assert(
    fc.property(fc.json(), (s) => {
      assert.equal(parseJson(s, 'p.json'), JSON.parse(s));
    }),
    { numRuns: 300 },
  );
});

parse('arbitrary strings: a value or SlimwavError, nothing else (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom(...'{}[]",:0123456789.-+eEtrufalsn \\u'.split('')), maxLength: 40 }), (s) => {
      try {
        parseJson(s, 'p.json');
      } catch (e) {
        if (!(e instanceof SlimwavError)) throw e;
        return;
      }
      JSON.parse(s); // if we accepted it, so must JSON.parse (modulo duplicate keys, which we refuse)
    }),
    { numRuns: 500 },
  );
});

parse.run();
