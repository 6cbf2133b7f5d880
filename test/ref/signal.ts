// A deterministic test signal for the long-audio, streaming and abort tests.

/** a deterministic speech-like test signal (chirps and noise bursts) */
export function signal(n: number, seed = 1): Float32Array {
  const x = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const env = 0.5 + 0.5 * Math.sin(i / 2400);
    x[i] = env * (0.4 * Math.sin(i * 0.013 + 1e-6 * i * i / 50) + 0.2 * Math.sin(i * 0.21)) + 0.05 * (s / 2147483648 - 0.5);
  }
  return x;
}
