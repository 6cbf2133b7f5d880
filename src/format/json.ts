/**
 * A strict JSON reader for untrusted headers (safetensors) and config files.
 *
 * Why not JSON.parse: it silently keeps the last of two equal keys, so a file could show one tensor to one reader
 * and another to us; its errors are SyntaxErrors without the file name; and deep nesting overflows the stack with a
 * RangeError. This parser follows RFC 8259 exactly, refuses duplicate keys at every level, limits nesting depth, and
 * reports every problem as E_FORMAT naming the file and the character offset.
 *
 * Objects come back as ordinary objects whose key order is the file's (a key "__proto__" becomes an own property, as
 * with JSON.parse). Numbers are JS numbers.
 */
import { fail } from '../errors.js';

const MAX_DEPTH = 256;
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Decode UTF-8 strictly (a bad byte is an error, not U+FFFD); a leading BOM is dropped. */
export function decodeUtf8(bytes: Uint8Array, fileName: string, what = 'text'): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return fail('E_FORMAT', `${fileName}: ${what} is not valid UTF-8`);
  }
}

/** Parse `text` as one JSON value; `what` names it in messages ("header", "config"). */
export function parseJson(text: string, fileName: string, what = 'file'): unknown {
  const p = new Parser(text, fileName, what);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i < text.length) p.error('end of input');
  return v;
}

/** `decodeUtf8` then `parseJson`. */
export function parseJsonBytes(bytes: Uint8Array, fileName: string, what = 'file'): unknown {
  return parseJson(decodeUtf8(bytes, fileName, what), fileName, what);
}

/** True for a non-null, non-array object (what a JSON object parses to). */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Parser {
  i = 0;
  constructor(readonly s: string, readonly fileName: string, readonly what: string) {}

  error(expected: string): never {
    const found = this.i >= this.s.length ? 'end of input' : JSON.stringify(this.s.slice(this.i, this.i + 12));
    return fail('E_FORMAT', `${this.fileName}: ${this.what} is not valid JSON: expected ${expected} at offset ${this.i}, found ${found}`);
  }

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  value(depth: number): unknown {
    if (depth > MAX_DEPTH) {
      fail('E_FORMAT', `${this.fileName}: ${this.what} nests deeper than ${MAX_DEPTH} levels at offset ${this.i}`);
    }
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b: return this.object(depth);   // {
      case 0x5b: return this.array(depth);    // [
      case 0x22: return this.string();        // "
      case 0x74: return this.literal('true', true);
      case 0x66: return this.literal('false', false);
      case 0x6e: return this.literal('null', null);
      default: {
        NUMBER_RE.lastIndex = this.i;
        const m = NUMBER_RE.exec(this.s);
        if (!m) this.error('a value');
        this.i += m[0].length;
        return Number(m[0]);
      }
    }
  }

  literal<T>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) this.error(`a value`);
    this.i += word.length;
    return v;
  }

  object(depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.i++; // {
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) { this.i++; return out; }
    for (;;) {
      if (this.s.charCodeAt(this.i) !== 0x22) this.error('a string key');
      const keyAt = this.i;
      const key = this.string();
      if (seen.has(key)) {
        fail('E_FORMAT', `${this.fileName}: ${this.what} has the key ${JSON.stringify(key)} twice (second at offset ${keyAt})`);
      }
      seen.add(key);
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x3a) this.error("':'");
      this.i++;
      this.ws();
      const v = this.value(depth + 1);
      if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) { this.i++; this.ws(); continue; }
      if (c === 0x7d) { this.i++; return out; }
      this.error("',' or '}'");
    }
  }

  array(depth: number): unknown[] {
    const out: unknown[] = [];
    this.i++; // [
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) { this.i++; return out; }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === 0x2c) { this.i++; this.ws(); continue; }
      if (c === 0x5d) { this.i++; return out; }
      this.error("',' or ']'");
    }
  }

  string(): string {
    const s = this.s;
    let i = this.i + 1; // after the opening quote
    let out = '';
    let run = i;
    for (;;) {
      if (i >= s.length) { this.i = i; this.error('a closing \'"\''); }
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) { this.i = i; this.error('no raw control character inside a string'); }
      if (c !== 0x5c) { i++; continue; }
      out += s.slice(run, i);
      const e = s.charCodeAt(i + 1);
      i += 2;
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const hex = s.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) { this.i = i; this.error('4 hex digits after \\u'); }
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          break;
        }
        default: this.i = i - 1; this.error('a valid escape character');
      }
      run = i;
    }
    out += s.slice(run, i);
    this.i = i + 1;
    return out;
  }
}
