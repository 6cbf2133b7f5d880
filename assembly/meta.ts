// Module facts the host needs before it places any buffer.
import { WS_END } from './workspace';

/**
 * First byte the host may use: below it are the module's static data and its per-instance workspace slots
 * (workspace.ts: 1 MB in the private builds, 32 × 1 MB reserved in the shared builds, touched only as instances
 * claim them).
 */
export const HEAP_BASE: usize = WS_END;
