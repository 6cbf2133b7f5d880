/**
 * This process's peak resident memory, MB. On Linux it is read from /proc/self/status (VmHWM, the high-water mark
 * of this process's own address space). `process.resourceUsage().maxRSS` is not that: Linux carries the larger of
 * the parent's and the child's high-water marks across fork + exec, so a child spawned by a large parent (a bench that
 * has already run several models) reported the parent's size, not its own. Elsewhere maxRSS is what there is.
 */
import { readFileSync } from 'node:fs';

export function peakRssMB(): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}
