/**
 * Kernel calls that are worth splitting across threads, shared by the inference engine and the pruner's training
 * ops: GEMMs split by rows (multiples of 4) or by 8-column panels, row-wise LayerNorm and elementwise GELU split in
 * ranges. With one thread every call goes straight to the kernel. Each output element is computed by the same code
 * either way, so results do not depend on the thread count.
 */
import type { Command, ThreadPool } from './threads.js';
import type { KernelExports } from './wasm.js';

/**
 * Rows one int8 GEMM call quantizes and multiplies at a time (a multiple of every row tile): the quantized-activation
 * scratch is sized for this many rows (Exec.gemmQ8).
 */
export const Q8_ROWS_PER_CALL = 1024;

export class Exec {
  readonly k: KernelExports;
  readonly pool: ThreadPool | null;
  readonly threads: number;

  constructor(k: KernelExports, pool: ThreadPool | null) {
    this.k = k;
    this.pool = pool;
    this.threads = pool ? pool.size : 1;
  }

  /** Run one command list per thread (list 0 here), or all of them here when single-threaded. */
  runLists(lists: Command[][]): void {
    if (this.pool) {
      this.pool.run(lists);
      return;
    }
    const k = this.k as unknown as Record<string, (...a: number[]) => void>;
    for (const list of lists) for (const [name, ...args] of list) k[name](...args);
  }

  /**
   * Packed GEMM, split across threads when it is worth it: by rows (multiples of 4) when there are many, otherwise
   * by 8-column panels. Each output element is computed by the same code either way.
   */
  gemm(M: number, N: number, K: number, A: number, lda: number, Bp: number, C: number, ldc: number, bias: number, act: number, acc: number): void {
    const T = this.threads;
    if (T === 1 || 2 * M * N * K < 2e6 || M === 0 || N === 0) {
      this.k.f32_gemm_packed(M, N, K, A, lda, Bp, C, ldc, bias, act, acc);
      return;
    }
    this.runLists(this.split(M, N, 4,
      (m0, m1) => [['f32_gemm_packed', m1 - m0, N, K, A + m0 * lda * 4, lda, Bp, C + m0 * ldc * 4, ldc, bias, act, acc]],
      (p0, n0, n1) => [['f32_gemm_packed', M, n1 - n0, K, A, lda, Bp + p0 * K * 8 * 4, C + n0 * 4, ldc, bias ? bias + n0 * 4 : 0, act, acc]]));
  }

  /**
   * One command list per thread for a GEMM of M rows and N columns: by rows in multiples of `rowTile` when there are
   * many (M ≥ 16 per thread), else by 8-column panels (p0: first panel, columns [n0, n1)); empty lists for idle threads.
   */
  private split(M: number, N: number, rowTile: number, rows: (m0: number, m1: number) => Command[],
    panels: (p0: number, n0: number, n1: number) => Command[]): Command[][] {
    const T = this.threads, lists: Command[][] = [];
    if (M >= 16 * T) {
      const per = Math.ceil(M / T / rowTile) * rowTile;
      for (let t = 0; t < T; t++) {
        const m0 = t * per, m1 = Math.min(M, m0 + per);
        lists.push(m1 > m0 ? rows(m0, m1) : []);
      }
    } else {
      const count = Math.ceil(N / 8), per = Math.ceil(count / T);
      for (let t = 0; t < T; t++) {
        const p0 = t * per, p1 = Math.min(count, p0 + per), n0 = p0 * 8, n1 = Math.min(N, p1 * 8);
        lists.push(n1 > n0 ? panels(p0, n0, n1) : []);
      }
    }
    return lists;
  }

  /**
   * int8 GEMM (assembly/q8gemm.ts): C (+)= act(A·Wᵀ + bias) with W packed by pack-q8.ts (Bq, sw), A f32 quantized
   * per row into the scratch (Aq: q8_packed_a_bytes(M, K) bytes, sa: M floats) on the way. Split like gemm(): by
   * rows (multiples of the kernel's row tile), each thread quantizing its own rows, or by 8-column panels after one
   * quantize pass here; in calls of at most Q8_ROWS_PER_CALL rows. A row's quantization depends on that row only and
   * the integer sums are exact, so results do not depend on the thread count.
   */
  gemmQ8(M: number, N: number, K: number, A: number, lda: number, Bq: number, sw: number, C: number, ldc: number, bias: number,
    act: number, acc: number, Aq: number, sa: number): void {
    // at most Q8_ROWS_PER_CALL rows at a time, so the scratch stays small (conv layer 1 has 16k rows per 10 s)
    for (let m0 = Q8_ROWS_PER_CALL; m0 < M; m0 += Q8_ROWS_PER_CALL) {
      this.gemmQ8(Math.min(Q8_ROWS_PER_CALL, M - m0), N, K, A + m0 * lda * 4, lda, Bq, sw, C + m0 * ldc * 4, ldc, bias, act, acc, Aq, sa);
    }
    M = Math.min(M, Q8_ROWS_PER_CALL);
    const T = this.threads, k = this.k;
    if (T === 1 || 2 * M * N * K < 2e6 || M === 0 || N === 0) {
      k.q8_quantize_a(M, K, A, lda, Aq, sa);
      k.q8_gemm(M, N, K, Aq, sa, Bq, sw, C, ldc, bias, act, acc);
      return;
    }
    const KP = (K + 1) >> 1, mr = (this.q8Rows ||= k.q8_tile_rows());
    // by rows: each thread quantizes its own; by panels: one quantize pass here, shared
    if (M < 16 * T) k.q8_quantize_a(M, K, A, lda, Aq, sa);
    this.runLists(this.split(M, N, mr,
      (m0, m1) => {
        const aq = Aq + (m0 / mr) * KP * 32, s = sa + m0 * 4;
        return [
          ['q8_quantize_a', m1 - m0, K, A + m0 * lda * 4, lda, aq, s],
          ['q8_gemm', m1 - m0, N, K, aq, s, Bq, sw, C + m0 * ldc * 4, ldc, bias, act, acc],
        ];
      },
      (p0, n0, n1) => [['q8_gemm', M, n1 - n0, K, Aq, sa, Bq + p0 * KP * 16, sw + n0 * 4, C + n0 * 4, ldc, bias ? bias + n0 * 4 : 0, act, acc]]));
  }

  private q8Rows = 0;

  /** Row LayerNorm in place or out of place (rows split across threads when long). */
  layerNorm(M: number, N: number, X: number, Y: number, g: number, b: number, eps: number): void {
    const T = this.threads;
    if (T === 1 || M * N < 1 << 16) {
      this.k.f32_layernorm(M, N, X, N, Y, N, g, b, eps);
      return;
    }
    const per = Math.ceil(M / T);
    this.runLists(Array.from({ length: T }, (_, t) => {
      const m0 = t * per, m1 = Math.min(M, m0 + per);
      return m1 > m0 ? [['f32_layernorm', m1 - m0, N, X + m0 * N * 4, N, Y + m0 * N * 4, N, g, b, eps] as Command] : [];
    }));
  }

  /** Elementwise GELU in place, split across threads when long. */
  gelu(n: number, X: number): void {
    const T = this.threads;
    if (T === 1 || n < 1 << 16) {
      this.k.f32_gelu(n, X, X);
      return;
    }
    const per = Math.ceil(n / T / 4) * 4;
    this.runLists(Array.from({ length: T }, (_, t) => {
      const a = t * per, e = Math.min(n, a + per);
      return e > a ? [['f32_gelu', e - a, X + a * 4, X + a * 4] as Command] : [];
    }));
  }

}
