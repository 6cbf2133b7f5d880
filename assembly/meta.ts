// Module facts the host needs before it places any buffer.

/** First byte the host may use: everything below holds the module's static data. */
export const HEAP_BASE: usize = __heap_base;
