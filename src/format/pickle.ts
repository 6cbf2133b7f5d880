/**
 * A pickle *reader* that never runs anything: just enough of the pickle virtual machine to read what `torch.save`
 * writes (protocol 2, plus the opcodes protocols 3–5 could add), and nothing that calls Python code.
 *
 * Why this is safe: a pickle can only run code through a callable it names with GLOBAL / STACK_GLOBAL / INST
 * (module + attribute) and then invokes with REDUCE / NEWOBJ / OBJ, or through the copyreg extension registry
 * (EXT1/2/4). Every name is checked against `ALLOWED_GLOBALS` *when it is named*, before anything could call it,
 * and anything else is refused with E_UNSAFE; the extension opcodes are refused outright. Allowed names are only
 * ever interpreted by this module (plain containers) or by the caller's `call` hook (tensors), never executed.
 *
 * Python values come back as JS values:
 *   None → null, bool → boolean, int → number (bigint beyond ±2^53), float → number, str → string,
 *   bytes/bytearray → Uint8Array, list/tuple/set/frozenset → Array, dict/OrderedDict → Map,
 *   an allow-listed global used as a value (e.g. torch.FloatStorage) → PyGlobal.
 *
 * Bounded: every length is checked against the bytes left before anything is sliced or allocated; the machine
 * makes one pass over the input (no opcode jumps backwards), so the work is linear in the input; stack, mark stack
 * and memo have size limits. All malformed input is E_FORMAT.
 */
import { fail } from '../errors.js';

/** A module attribute named by the pickle (only ever one on the allow-list). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * Everything a checkpoint may name. Containers are built here; the torch entries are handed to the caller's `call`
 * hook (tensor rebuilders) or used as markers (storage classes, tensor types).
 */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  // plain data
  'collections.OrderedDict',
  'builtins.set',
  'builtins.frozenset',
  'builtins.bytearray',
  '_codecs.encode', // how protocol 2 spells a bytes object: _codecs.encode(str, 'latin1')
  'torch.Size',
  // tensors
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
  'torch.Tensor',
  'torch.nn.parameter.Parameter',
  // storage classes named in persistent ids
  'torch.FloatStorage',
  'torch.HalfStorage',
  'torch.BFloat16Storage',
  'torch.DoubleStorage',
  'torch.LongStorage',
  'torch.IntStorage',
  'torch.ShortStorage',
  'torch.CharStorage',
  'torch.ByteStorage',
  'torch.BoolStorage',
]);

export interface UnpickleLimits {
  maxStack: number;
  maxMarks: number;
  maxMemo: number;
}

export const DEFAULT_LIMITS: UnpickleLimits = { maxStack: 1 << 20, maxMarks: 1 << 12, maxMemo: 1 << 20 };

export interface UnpickleOptions {
  /** named in every error message */
  fileName: string;
  /** what is being read, for messages (e.g. "archive/data.pkl") */
  what?: string;
  /**
   * REDUCE / NEWOBJ of an allow-listed callable this module does not build itself. Return the object, or
   * `undefined` to refuse it. Must not call back into anything the pickle chose.
   */
  call?: (fn: PyGlobal, args: unknown[]) => unknown;
  /** BINPERSID: turn a persistent id (torch: a storage reference) into a value */
  persistentLoad?: (pid: unknown) => unknown;
  limits?: Partial<UnpickleLimits>;
}

/** Text from a file, made safe for a one-line message: control characters escaped, long text cut. */
export function printable(s: string, max = 200): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** The message E_UNSAFE uses; exported so that other readers say the same thing. */
export function unsafeMessage(fileName: string, qualified: string): string {
  qualified = printable(qualified);
  let msg = `${fileName}: pickle refers to ${qualified}, which slimwav will not load (only tensor data is allowed)`;
  if (/^(torch\.nn\.modules\.|__main__\.|transformers\.|torchaudio\.models\.|fairseq\.|wav2vec2\.)/.test(qualified)) {
    msg += '; this looks like a whole pickled model object: save model.state_dict() with torch.save instead';
  } else if (/^(argparse\.Namespace|omegaconf\.|pathlib\.|numpy\.)/.test(qualified)) {
    msg += '; the checkpoint stores non-tensor Python objects (training arguments?): save only the state_dict (and a plain-dict config)';
  }
  return msg;
}

const MARK = Symbol('mark');

export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): unknown {
  const { fileName } = opts;
  const where = opts.what ? `${opts.what}: ` : '';
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const n = bytes.byteLength;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n);
  let pos = 0;
  let opPos = 0;
  const bad = (msg: string): never => fail('E_FORMAT', `${fileName}: ${where}pickle byte ${opPos}: ${msg}`);

  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: false });

  const need = (k: number, what: string): void => {
    if (k > n - pos) bad(`${what} needs ${k} bytes but only ${n - pos} are left (truncated pickle)`);
  };
  const u8 = () => { need(1, 'argument'); return bytes[pos++]; };
  const u16 = () => { need(2, 'argument'); const v = dv.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4, 'argument'); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const i32 = () => { need(4, 'argument'); const v = dv.getInt32(pos, true); pos += 4; return v; };
  const u64 = () => {
    need(8, 'argument');
    const lo = dv.getUint32(pos, true), hi = dv.getUint32(pos + 4, true);
    pos += 8;
    // anything ≥ 2^53 is certainly longer than the input; the caller's need() will refuse it
    return hi > 0x1fffff ? Number.MAX_SAFE_INTEGER : hi * 2 ** 32 + lo;
  };
  const take = (len: number, what: string): Uint8Array => {
    need(len, what);
    const out = bytes.subarray(pos, pos + len);
    pos += len;
    return out;
  };
  /** a "\n"-terminated text argument (GLOBAL, INST), at most 1024 bytes */
  const line = (): string => {
    const end = bytes.subarray(pos, Math.min(n, pos + 1024)).indexOf(0x0a);
    if (end < 0) bad('unterminated text argument');
    const s = utf8.decode(bytes.subarray(pos, pos + end));
    pos += end + 1;
    return s;
  };

  const push = (v: unknown): void => {
    if (stack.length >= limits.maxStack) bad(`stack deeper than ${limits.maxStack} entries`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) bad('stack underflow');
    const v = stack.pop();
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) bad('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) bad('no MARK to pop to');
    return stack.splice(m as number);
  };
  const memoPut = (k: number, v: unknown): void => {
    if (!memo.has(k) && memo.size >= limits.maxMemo) bad(`memo larger than ${limits.maxMemo} entries`);
    memo.set(k, v);
  };

  const resolve = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(q)) fail('E_UNSAFE', unsafeMessage(fileName, q));
    return new PyGlobal(module, name);
  };

  const asMap = (v: unknown, op: string): Map<unknown, unknown> => {
    if (!(v instanceof Map)) bad(`${op} on a ${describe(v)}, expected a dict`);
    return v as Map<unknown, unknown>;
  };
  const asList = (v: unknown, op: string): unknown[] => {
    if (!Array.isArray(v)) bad(`${op} on a ${describe(v)}, expected a list`);
    return v as unknown[];
  };

  const callGlobal = (fn: unknown, args: unknown, op: string): unknown => {
    if (!(fn instanceof PyGlobal)) return bad(`${op} of a ${describe(fn)}, which is not callable`);
    if (!Array.isArray(args)) return bad(`${op} of ${fn.qualifiedName} with ${describe(args)} arguments, expected a tuple`);
    switch (fn.qualifiedName) {
      case 'collections.OrderedDict': {
        const m = new Map<unknown, unknown>();
        if (args.length === 0) return m;
        if (args.length === 1 && Array.isArray(args[0])) {
          for (const kv of args[0]) {
            if (!Array.isArray(kv) || kv.length !== 2) bad('OrderedDict(...) items must be (key, value) pairs');
            m.set(kv[0], kv[1]);
          }
          return m;
        }
        return bad('OrderedDict(...) with unexpected arguments');
      }
      case 'builtins.set':
      case 'builtins.frozenset':
        if (args.length === 0) return [];
        if (args.length === 1 && Array.isArray(args[0])) return [...args[0]];
        return bad(`${fn.name}(...) with unexpected arguments`);
      case 'builtins.bytearray':
        if (args.length === 0) return new Uint8Array(0);
        if (args.length === 1 && args[0] instanceof Uint8Array) return args[0];
        return bad('bytearray(...) with unexpected arguments');
      case '_codecs.encode': {
        const [s, enc] = args;
        if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1') || args.length !== 2) {
          return bad('_codecs.encode(...) is only accepted as (str, "latin1"), how pickle spells bytes');
        }
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c > 0xff) bad('_codecs.encode(...) of a non-latin-1 string');
          out[i] = c;
        }
        return out;
      }
      case 'torch.Size':
        if (args.length === 1 && Array.isArray(args[0])) return [...args[0]];
        return bad('torch.Size(...) with unexpected arguments');
      default: {
        const v = opts.call?.(fn, args);
        if (v === undefined) bad(`${printable(fn.qualifiedName)} cannot be called here`);
        return v;
      }
    }
  };

  for (;;) {
    opPos = pos;
    if (pos >= n) bad('pickle ends without a STOP opcode (truncated)');
    const op = bytes[pos++];
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) bad(`pickle protocol ${v} is newer than 5`);
        break;
      }
      case 0x95: { // FRAME: a length hint only
        const len = u64();
        if (len > n - pos) bad(`frame of ${len} bytes runs past the end of the pickle`);
        break;
      }
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: // MARK
        if (marks.length >= limits.maxMarks) bad(`more than ${limits.maxMarks} nested MARKs`);
        marks.push(stack.length);
        break;
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: push(top()); break; // DUP

      // constants and numbers
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: push(i32()); break; // BININT
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x8a: push(readLong(take(u8(), 'LONG1'))); break; // LONG1
      case 0x8b: { // LONG4
        const len = i32();
        if (len < 0) bad('LONG4 with a negative length');
        if (len > 64) bad(`LONG4 of ${len} bytes: integers that large do not occur in checkpoints`);
        push(readLong(take(len, 'LONG4')));
        break;
      }
      case 0x47: { // BINFLOAT (big-endian)
        need(8, 'BINFLOAT');
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }

      // strings and bytes
      case 0x58: push(utf8.decode(take(u32(), 'BINUNICODE'))); break;
      case 0x8c: push(utf8.decode(take(u8(), 'SHORT_BINUNICODE'))); break;
      case 0x8d: push(utf8.decode(take(u64(), 'BINUNICODE8'))); break;
      case 0x55: push(latin1.decode(take(u8(), 'SHORT_BINSTRING'))); break;
      case 0x54: { // BINSTRING
        const len = i32();
        if (len < 0) bad('BINSTRING with a negative length');
        push(latin1.decode(take(len, 'BINSTRING')));
        break;
      }
      case 0x43: push(take(u8(), 'SHORT_BINBYTES')); break;
      case 0x42: push(take(u32(), 'BINBYTES')); break;
      case 0x8e: push(take(u64(), 'BINBYTES8')); break;
      case 0x96: push(take(u64(), 'BYTEARRAY8')); break;

      // containers
      case 0x7d: push(new Map()); break; // EMPTY_DICT
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push([]); break; // EMPTY_TUPLE
      case 0x8f: push([]); break; // EMPTY_SET
      case 0x85: { const a = pop(); push([a]); break; } // TUPLE1
      case 0x86: { const b = pop(), a = pop(); push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); push([a, b, c]); break; } // TUPLE3
      case 0x74: push(popMark()); break; // TUPLE
      case 0x6c: push(popMark()); break; // LIST
      case 0x91: push(popMark()); break; // FROZENSET
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) bad('DICT with an odd number of items');
        const m = new Map<unknown, unknown>();
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        push(m);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        asMap(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) bad('SETITEMS with an odd number of items');
        const m = asMap(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: { // ADDITEMS (sets are lists here)
        const items = popMark();
        const l = asList(top(), op === 0x65 ? 'APPENDS' : 'ADDITEMS');
        for (const v of items) l.push(v);
        break;
      }

      // memo
      case 0x71: memoPut(u8(), top()); break; // BINPUT
      case 0x72: memoPut(u32(), top()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) bad(`memo key ${k} was never stored`);
        push(memo.get(k));
        break;
      }

      // names and calls: every name is checked here, when it is named
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        push(resolve(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') bad('STACK_GLOBAL needs two strings');
        push(resolve(module as string, name as string));
        break;
      }
      case 0x69: { // INST: module\nname\n, args from MARK
        const module = line();
        const name = line();
        const fn = resolve(module, name);
        push(callGlobal(fn, popMark(), 'INST'));
        break;
      }
      case 0x6f: { // OBJ: MARK cls args… OBJ
        const items = popMark();
        if (items.length === 0) bad('OBJ without a class');
        push(callGlobal(items[0], items.slice(1), 'OBJ'));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        push(callGlobal(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop(), cls = pop();
        push(callGlobal(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: { // NEWOBJ_EX: cls, args, kwargs
        const kwargs = pop(), args = pop(), cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size !== 0) bad('NEWOBJ_EX with keyword arguments');
        push(callGlobal(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: { // BUILD: obj.__setstate__(state). Nothing here has behaviour, so the state is dropped.
        pop();
        const obj = top();
        if (obj === null || typeof obj !== 'object') bad(`BUILD on a ${describe(obj)}`);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) bad('persistent id in a pickle that cannot have any');
        push(opts.persistentLoad!(pid));
        break;
      }

      case 0x82: case 0x83: case 0x84: // EXT1, EXT2, EXT4: names from the copyreg registry
        fail('E_UNSAFE', `${fileName}: ${where}pickle uses the copyreg extension registry (opcode EXT), which slimwav will not load (only tensor data is allowed)`);
        break;
      case 0x97: case 0x98: // NEXT_BUFFER, READONLY_BUFFER
        bad('out-of-band buffers (pickle protocol 5) are not supported');
        break;
      default:
        bad(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}${op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''}${
          'ILFSVPgp'.includes(String.fromCharCode(op)) ? ' (a protocol-0 text opcode, which torch.save does not write)' : ''}`);
    }
  }
}

/** Little-endian two's complement → number when exact, else bigint. */
function readLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A short description of a value for messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list/tuple';
  if (v instanceof Map) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyGlobal) return printable(v.qualifiedName);
  if (typeof v === 'object') return 'object';
  return typeof v;
}
