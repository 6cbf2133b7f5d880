/**
 * A small ONNX graph builder: unique value names, typed initializers (deduplicated constants), nodes with typed
 * attributes, and the few composite helpers the exporter repeats (exact GELU, ReduceMean across opset versions).
 * It knows nothing about speech models.
 */
import { AttrType, DataType, type AttributeMsg, type NodeMsg, type TensorMsg } from './proto.js';

/** An attribute value: integer → INT, integer list → INTS, F(x) → FLOAT, string → STRING. */
export type Attr = number | number[] | { f: number } | string;
export const F = (f: number): { f: number } => ({ f });

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('slimwav ONNX export needs a little-endian host (raw tensor data is written as it is in memory)');
}

function attribute(name: string, v: Attr): AttributeMsg {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new Error(`attribute ${name}: ${v} is not an integer (use F() for floats)`);
    return { name, type: AttrType.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  return { name, type: AttrType.FLOAT, f: v.f };
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export class GraphBuilder {
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  /** bytes of initializer data so far */
  initBytes = 0;
  private readonly used = new Set<string>();
  private readonly consts = new Map<string, string>();

  constructor(readonly opset: number) {}

  /** A fresh value name starting with `prefix`. */
  name(prefix: string): string {
    let n = prefix, i = 0;
    while (this.used.has(n)) n = `${prefix}_${++i}`;
    this.used.add(n);
    return n;
  }

  /** A float32 initializer (copied as it is). */
  f32(prefix: string, data: Float32Array, dims: number[]): string {
    return this.tensor(prefix, data, dims, DataType.FLOAT);
  }

  /** An int8 initializer (copied as it is). */
  i8(prefix: string, data: Int8Array, dims: number[]): string {
    return this.tensor(prefix, data, dims, DataType.INT8);
  }

  private tensor(prefix: string, data: Float32Array | Int8Array, dims: number[], dataType: number): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`initializer ${prefix}: ${data.length} values for shape [${dims}]`);
    const name = this.name(prefix);
    this.initializers.push({ name, dims, dataType, rawData: bytesOf(data) });
    this.initBytes += data.byteLength;
    return name;
  }

  /** An int8 scalar constant (rank 0, shared): the zero point of symmetric int8 weights. */
  i8Scalar(v: number): string {
    const key = `i8:${v}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.name('const_i8');
      this.initializers.push({ name, dims: [], dataType: DataType.INT8, rawData: bytesOf(new Int8Array([v])) });
      this.consts.set(key, name);
    }
    return name;
  }

  /** An int64 constant (shared between all users of the same value and shape). */
  i64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.name(`const_i64_${values.length === 1 ? String(values[0]).replace('-', 'm') : 'v'}`);
      this.initializers.push({ name, dims, dataType: DataType.INT64, rawData: bytesOf(BigInt64Array.from(values, (v) => BigInt(v))) });
      this.consts.set(key, name);
    }
    return name;
  }

  /** A float32 scalar constant (rank 0, shared). */
  scalar(v: number): string {
    const key = `f32:${Math.fround(v)}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.name('const_f32');
      this.initializers.push({ name, dims: [], dataType: DataType.FLOAT, rawData: bytesOf(new Float32Array([v])) });
      this.consts.set(key, name);
    }
    return name;
  }

  /** Append a node; returns its output names (`outputs` of them). Empty-string inputs are optional inputs left out. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1, prefix = opType.toLowerCase()): string[] {
    const out = Array.from({ length: outputs }, (_, i) => this.name(outputs === 1 ? prefix : `${prefix}_o${i}`));
    this.nodes.push({
      input: inputs,
      output: out,
      name: this.name(`n_${prefix}`),
      opType,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** Single-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, prefix?: string): string {
    return this.node(opType, inputs, attrs, 1, prefix)[0];
  }

  /** A node whose output must carry an exact graph-level name (graph outputs). */
  named(opType: string, inputs: string[], output: string, attrs: Record<string, Attr> = {}): string {
    if (this.used.has(output)) throw new Error(`value name ${output} is taken`);
    this.used.add(output);
    this.nodes.push({ input: inputs, output: [output], name: this.name(`n_${output}`), opType, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return output;
  }

  /** Reserve a name for a graph input. */
  input(name: string): string {
    if (this.used.has(name)) throw new Error(`value name ${name} is taken`);
    this.used.add(name);
    return name;
  }

  // ---- composite helpers

  /** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
  gelu(x: string, prefix = 'gelu'): string {
    // spelled as x / √2 (not x · (1/√2)) so that onnxruntime's Gelu fusion recognises the pattern
    const e = this.op('Erf', [this.op('Div', [x, this.scalar(Math.SQRT2)], {}, `${prefix}_scaled`)], {}, `${prefix}_erf`);
    const h = this.op('Mul', [x, this.op('Add', [e, this.scalar(1)], {}, `${prefix}_1p`)], {}, `${prefix}_xe`);
    return this.op('Mul', [h, this.scalar(0.5)], {}, prefix);
  }

  /** ReduceMean over `axes` (attribute before opset 18, input from 18 on). */
  reduceMean(x: string, axes: number[], keepdims: boolean, prefix = 'mean'): string {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 }, prefix);
    return this.op('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 }, prefix);
  }

  /** ReduceSum over `axes` (axes are an input since opset 13). */
  reduceSum(x: string, axes: number[], keepdims: boolean, prefix = 'sum'): string {
    return this.op('ReduceSum', [x, this.i64(axes)], { keepdims: keepdims ? 1 : 0 }, prefix);
  }

  /** Columns [start, end) of the last axis of a rank-`rank` tensor. */
  sliceLast(x: string, start: number, end: number, prefix = 'slice'): string {
    return this.op('Slice', [x, this.i64([start]), this.i64([end]), this.i64([-1])], {}, prefix);
  }

  /** x·Wᵀ + b for x [T, in], W [out, in] (PyTorch layout, kept as stored). */
  linear(x: string, w: string, b: string | null, prefix = 'linear'): string {
    return this.op('Gemm', b ? [x, w, b] : [x, w], { transB: 1 }, prefix);
  }
}
