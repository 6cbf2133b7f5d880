/**
 * PyTorch checkpoints (`torch.save` ≥ 1.6: a zip archive) → JS values with RawTensor leaves, and a state-dict view
 * of the common wrappers (bare state dict, DPHuBERT `{state_dict, config}`, `{model: …}`, Lightning).
 *
 * Archive layout (written by torch.save; `<a>` is an archive name chosen by the writer):
 *   <a>/data.pkl     the pickled object; tensors appear as
 *                    _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])
 *                    and a storage as the persistent id ('storage', torch.<T>Storage, key, location, numel)
 *   <a>/data/<key>   the storage's bytes: numel elements of T, little-endian
 *   <a>/byteorder    "little" (newer writers), <a>/version, <a>/.data/… (ignored)
 *
 * A tensor is a strided view of its storage: element (i0, i1, …) is storage[offset + Σ i_k · stride_k]. Views are
 * validated against the storage with exact integer arithmetic; contiguous views are returned as views into the file
 * bytes (no copy, and tensors that share a storage share bytes), other views are copied out into C order.
 */
import { fail } from '../errors.js';
import { DTYPE_BYTES, type DType, type RawTensor } from './tensor.js';
import { looksLikeZip, openZip } from './zip.js';
import { PyGlobal, describe, printable, unpickle } from './pickle.js';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** pickle magic of the legacy (pre-1.6) format: PROTO 2, LONG1 of 10 bytes = 0x1950a86a20f9469cfc6c */
const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

interface Storage {
  key: string;
  dtype: DType;
  numel: number;
  bytes: Uint8Array;
}

/** True for a RawTensor produced by this reader (or any object of that shape). */
export function isRawTensor(v: unknown): v is RawTensor {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map)
    && (v as RawTensor).data instanceof Uint8Array && Array.isArray((v as RawTensor).shape)
    && typeof (v as RawTensor).dtype === 'string';
}

/** Read a torch.save file. dict → Map, list/tuple → Array, tensor → RawTensor (see pickle.ts for the rest). */
export function parseTorchCheckpoint(bytes: Uint8Array, fileName: string): unknown {
  const bad = (msg: string): never => fail('E_FORMAT', `${fileName}: ${msg}`);
  if (LEGACY_MAGIC.every((b, i) => bytes[i] === b)) {
    bad('legacy (pre-1.6) torch.save format; re-save it with torch.save(obj, path) in a recent PyTorch (it defaults to the zip format)');
  }
  if (!looksLikeZip(bytes)) {
    if (bytes[0] === 0x80) bad('a bare pickle, not a torch.save archive (a zip); load it in Python and re-save it with torch.save(obj, path)');
    bad('not a PyTorch checkpoint (torch.save writes a zip archive; this file does not start like one)');
  }
  const zip = openZip(bytes, fileName);

  // The one "<archive>/data.pkl" at the top of the archive.
  const pkls = [...zip.entries.keys()].filter((k) => /^(?:[^/]+\/)?data\.pkl$/.test(k));
  if (pkls.length === 0) {
    const names = [...zip.entries.keys()];
    if (names.some((k) => /(?:^|\/)constants\.pkl$/.test(k) || /(?:^|\/)code\//.test(k))) {
      bad('a TorchScript archive (torch.jit.save), not a torch.save checkpoint; save the model\'s state_dict() with torch.save instead');
    }
    bad(`zip archive without data.pkl: not a torch.save checkpoint (entries: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`);
  }
  if (pkls.length > 1) bad(`zip archive with ${pkls.length} data.pkl entries (${pkls.join(', ')}); expected one`);
  const pkl = pkls[0];
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(zip.read(`${prefix}byteorder`));
    if (order !== 'little') bad(`written on a ${JSON.stringify(order)}-endian machine; only little-endian checkpoints are supported`);
  }

  const storages = new Map<string, Storage>();
  // A copy of a non-contiguous view may not be larger than the file, and all copies together not larger than twice
  // the file: a small file cannot make us allocate much more than itself however many views of one storage it
  // declares (copies of ordinary transposed weights add up to at most the storages, i.e. less than the file).
  let copyBudget = 2 * bytes.byteLength;

  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      return bad(`${pkl}: unexpected persistent id ${describe(pid)}; expected ('storage', type, key, location, numel)`);
    }
    const [, type, key, , count] = pid;
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !Object.prototype.hasOwnProperty.call(STORAGE_DTYPES, type.name)) {
      return bad(`${pkl}: unsupported storage type ${describe(type)}`);
    }
    if (typeof key !== 'string' || !/^[\w.-]{1,64}$/.test(key)) {
      return bad(`${pkl}: storage key must be a short name, found ${typeof key === 'string' ? JSON.stringify(printable(key, 64)) : describe(key)}`);
    }
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      return bad(`${pkl}: storage ${key} has an invalid element count ${String(count)}`);
    }
    const dtype = STORAGE_DTYPES[type.name];
    const known = storages.get(key);
    if (known) {
      if (known.dtype !== dtype || known.numel !== count) bad(`${pkl}: storage ${key} is declared twice with different types or sizes`);
      return known;
    }
    const entry = `${prefix}data/${key}`;
    if (!zip.entries.has(entry)) bad(`storage ${key} is missing (no entry ${entry})`);
    const data = zip.read(entry);
    const want = count * DTYPE_BYTES[dtype];
    if (data.byteLength !== want) bad(`storage ${entry} has ${data.byteLength} bytes, but ${count} ${dtype} elements need ${want}`);
    const s: Storage = { key, dtype, numel: count, bytes: data };
    storages.set(key, s);
    return s;
  };

  const rebuildTensor = (args: unknown[]): RawTensor => {
    const [storage, offset, size, stride] = args;
    if (!storages.has((storage as Storage)?.key) || storages.get((storage as Storage).key) !== storage) {
      return bad(`${pkl}: tensor rebuilt from a ${describe(storage)} instead of a storage`);
    }
    const s = storage as Storage;
    return viewTensor(s, offset, size, stride, fileName, (nbytes) => {
      if (nbytes > bytes.byteLength || nbytes > copyBudget) {
        bad(`storage ${s.key}: a non-contiguous view needs a ${nbytes}-byte copy, more memory than the file's size allows (${bytes.byteLength} bytes)`);
      }
      copyBudget -= nbytes;
    });
  };

  const call = (fn: PyGlobal, args: unknown[]): unknown => {
    switch (fn.qualifiedName) {
      case 'torch._utils._rebuild_tensor_v2':
        if (args.length < 6 || args.length > 7) bad(`${pkl}: _rebuild_tensor_v2 with ${args.length} arguments`);
        return rebuildTensor(args);
      case 'torch._utils._rebuild_tensor':
        if (args.length !== 4) bad(`${pkl}: _rebuild_tensor with ${args.length} arguments`);
        return rebuildTensor(args);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        if (args.length < 3 || !isRawTensor(args[0])) bad(`${pkl}: ${fn.name} of a ${describe(args[0])}`);
        return args[0];
      case 'torch._tensor._rebuild_from_type_v2': {
        // (func, new_type, args, state): the tensor func(*args), re-typed as new_type (Tensor or Parameter)
        const [func, type, inner] = args;
        if (!(type instanceof PyGlobal) || !(func instanceof PyGlobal) || !Array.isArray(inner)) {
          return bad(`${pkl}: malformed _rebuild_from_type_v2`);
        }
        if (type.qualifiedName !== 'torch.Tensor' && type.qualifiedName !== 'torch.nn.parameter.Parameter') {
          return bad(`${pkl}: tensor subclass ${type.qualifiedName} is not supported`);
        }
        const t = call(func, inner);
        if (!isRawTensor(t)) bad(`${pkl}: _rebuild_from_type_v2 of ${func.qualifiedName} did not give a tensor`);
        return t;
      }
      default:
        return undefined; // refused by the unpickler with a message naming fn
    }
  };

  return unpickle(zip.read(pkl), { fileName, what: pkl, call, persistentLoad });
}

/** Exact non-negative integer (safe). */
function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The C-order bytes of the view (offset, size, stride) of a storage. `charge(n)` is told before n bytes are
 * allocated for a copy (contiguous views are not copied).
 */
function viewTensor(s: Storage, offset: unknown, size: unknown, stride: unknown, fileName: string, charge: (n: number) => void): RawTensor {
  const bad = (msg: string): never => fail('E_FORMAT', `${fileName}: tensor on storage data/${s.key}: ${msg}`);
  if (!isIndex(offset)) bad(`storage offset ${String(offset)} is not a non-negative integer`);
  if (!Array.isArray(size) || !Array.isArray(stride)) return bad('size and stride must be tuples');
  if (size.length !== stride.length) bad(`size has ${size.length} dimensions but stride has ${stride.length}`);
  if (size.length > 64) bad(`${size.length} dimensions`);
  for (const d of size) if (!isIndex(d)) bad(`size ${JSON.stringify(size.map(String))} has an entry that is not a non-negative integer`);
  for (const d of stride) if (!isIndex(d)) bad(`stride ${JSON.stringify(stride.map(String))} has an entry that is not a non-negative integer`);
  const shape = size as number[];
  const strides = stride as number[];
  const es = DTYPE_BYTES[s.dtype];

  // Exact arithmetic: numel and the largest element index the view touches.
  let count = 1n;
  let maxIndex = BigInt(offset as number);
  for (let k = 0; k < shape.length; k++) {
    count *= BigInt(shape[k]);
    if (shape[k] > 0) maxIndex += BigInt(shape[k] - 1) * BigInt(strides[k]);
  }
  const shapeStr = `[${shape.join(', ')}]`;
  if (count === 0n) return { dtype: s.dtype, shape: [...shape], data: new Uint8Array(0) };
  if (maxIndex >= BigInt(s.numel)) {
    bad(`view ${shapeStr} (offset ${offset}, stride [${strides.join(', ')}]) reaches element ${maxIndex} but the storage has ${s.numel}`);
  }
  const numel = Number(count);
  const off = offset as number;

  // Contiguous (C order; strides of size-1 dimensions do not matter): a view into the storage, no copy.
  let contiguous = true;
  for (let k = shape.length - 1, want = 1; k >= 0; k--) {
    if (shape[k] !== 1 && strides[k] !== want) { contiguous = false; break; }
    want *= shape[k];
  }
  if (contiguous) return { dtype: s.dtype, shape: [...shape], data: s.bytes.subarray(off * es, (off + numel) * es) };

  // numel × es fits in memory only if it is below the budget, which the caller checks before we allocate.
  const nbytes = numel * es;
  charge(nbytes);
  const out = new Uint8Array(nbytes);
  const src = s.bytes;
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let srcElem = off;
  const inner = shape[nd - 1], innerStride = strides[nd - 1];
  for (let o = 0; o < nbytes;) {
    // copy one innermost row
    for (let i = 0, e = srcElem; i < inner; i++, e += innerStride) {
      const b = e * es;
      for (let j = 0; j < es; j++) out[o++] = src[b + j];
    }
    // advance the outer index (odometer)
    let k = nd - 2;
    for (; k >= 0; k--) {
      idx[k]++;
      srcElem += strides[k];
      if (idx[k] < shape[k]) break;
      srcElem -= strides[k] * shape[k];
      idx[k] = 0;
    }
    if (k < 0) break;
  }
  return { dtype: s.dtype, shape: [...shape], data: out };
}

export interface TorchStateDict {
  /** tensors by their name in the checkpoint (after unwrapping; Lightning's `student_model.` prefix removed) */
  tensors: Map<string, RawTensor>;
  /** the checkpoint's own config (DPHuBERT: the kwargs of wav2vec2_model), as plain JSON values */
  config?: Record<string, unknown>;
  /** one line per thing that was found and left out */
  extra: string[];
}

const MAX_CONFIG_DEPTH = 32;

/**
 * Read a checkpoint as a flat state dict. Accepts a bare state dict, `{state_dict, config?, …}` (DPHuBERT),
 * `{model: state_dict, …}`, and Lightning checkpoints of DPHuBERT's distillation (`student_model.` prefix; the
 * teacher, distillation heads, Lagrange multipliers and hard-concrete log α are dropped with a note).
 */
export function readTorchStateDict(bytes: Uint8Array, fileName: string): TorchStateDict {
  const root = parseTorchCheckpoint(bytes, fileName);
  const bad = (msg: string): never => fail('E_FORMAT', `${fileName}: ${msg}`);
  if (!(root instanceof Map)) return bad(`expected a dict (a state dict or a checkpoint dict) at the top level, found a ${describe(root)}`);
  const extra: string[] = [];

  const tensorValued = (m: Map<unknown, unknown>) => m.size > 0 && [...m.values()].some(isRawTensor);
  let sd: Map<unknown, unknown>;
  let config: Record<string, unknown> | undefined;
  if (tensorValued(root) && !(root.get('state_dict') instanceof Map) && !(root.get('model') instanceof Map)) {
    sd = root;
  } else {
    const key = root.get('state_dict') instanceof Map ? 'state_dict' : root.get('model') instanceof Map ? 'model' : undefined;
    if (!key) {
      const keys = [...root.keys()].map((k) => printable(String(k), 60));
      return bad(`no state dict found: the top-level keys are ${keys.slice(0, 10).join(', ')}${keys.length > 10 ? ', …' : ''} (expected tensors, or a "state_dict" or "model" entry)`);
    }
    sd = root.get(key) as Map<unknown, unknown>;
    for (const [k, v] of root) {
      if (k === key) continue;
      if (k === 'config' && v instanceof Map) {
        config = toJson(v, fileName, 'config', 0) as Record<string, unknown>;
      } else {
        extra.push(`ignored top-level entry "${printable(String(k))}"`);
      }
    }
  }

  let tensors = new Map<string, RawTensor>();
  for (const [k, v] of sd) {
    if (typeof k !== 'string') { extra.push(`ignored state-dict entry with a non-string key (${describe(k)})`); continue; }
    if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(k)) bad(`tensor name with control characters: ${JSON.stringify(printable(k))}`);
    if (!isRawTensor(v)) { extra.push(`ignored non-tensor state-dict entry "${printable(k)}" (${describe(v)})`); continue; }
    tensors.set(k, v);
  }

  // Lightning checkpoint of DPHuBERT distillation: keep the student only.
  const names = [...tensors.keys()];
  if (names.some((k) => k.startsWith('student_model.'))) {
    const kept = new Map<string, RawTensor>();
    const dropped: Record<string, string[]> = {};
    for (const [k, v] of tensors) {
      if (k.startsWith('student_model.')) { kept.set(k.slice('student_model.'.length), v); continue; }
      const group = k.startsWith('distill_linear_projs.') ? 'distillation heads (distill_linear_projs.*)'
        : k.startsWith('teacher_model.') ? 'teacher model (teacher_model.*)'
        : /^lambda/.test(k) ? 'Lagrange multipliers (lambda*)' : 'other non-student tensors';
      (dropped[group] ??= []).push(k);
    }
    extra.push('Lightning checkpoint: kept the student_model.* tensors (prefix removed)');
    for (const [g, ks] of Object.entries(dropped)) extra.push(`dropped ${ks.length} ${g}: ${listNames(ks)}`);
    tensors = kept;
  }
  const alphas = [...tensors.keys()].filter((k) => k.endsWith('.log_alpha'));
  if (alphas.length) {
    for (const k of alphas) tensors.delete(k);
    extra.push(`dropped ${alphas.length} hard-concrete gate parameters (*.log_alpha): the gates are not applied, so this is the unpruned student; run DPHuBERT's prune step first to get the pruned model (${listNames(alphas)})`);
  }
  return config === undefined ? { tensors, extra } : { tensors, config, extra };
}

/** "a, b, c and 4 more" */
export function listNames(names: string[], max = 6): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** Python config values → JSON values (dicts with string keys → objects, tuples → arrays); bounded depth. */
function toJson(v: unknown, fileName: string, path: string, depth: number): unknown {
  if (depth > MAX_CONFIG_DEPTH) fail('E_FORMAT', `${fileName}: ${path} is nested more than ${MAX_CONFIG_DEPTH} levels deep`);
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map((x, i) => toJson(x, fileName, `${path}[${i}]`, depth + 1));
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) {
      if (typeof k !== 'string' && typeof k !== 'number') continue;
      Object.defineProperty(o, String(k), { value: toJson(x, fileName, `${path}.${printable(String(k), 40)}`, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
  return null; // tensors, bytes, markers: not configuration
}
