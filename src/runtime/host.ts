/**
 * What the runtime needs from Node, behind one small interface so that the browser build imports nothing from Node
 * (not even dynamically: bundlers follow `import('node:…')`). The Node entry (src/model.ts, through
 * node-host.ts) injects it with static imports; modules loaded on their own under Node (tests, the pruner) get the
 * same built-ins from process.getBuiltinModule (Node >= 20.16), which is a function call, not an import.
 */
import { fail } from '../errors.js';

/** The Node built-ins the runtime uses. */
export interface NodeModules {
  fs: typeof import('node:fs/promises');
  fsSync: typeof import('node:fs');

  url: { fileURLToPath(url: URL | string): string };
  v8: { setFlagsFromString(flags: string): void };
  os: { availableParallelism(): number };
  workerThreads: { Worker: new (source: string, opts: { eval: true; workerData: unknown }) => NodeWorkerLike };
}

/** The part of node:worker_threads' Worker the thread pool uses. */
export interface NodeWorkerLike {
  once(event: 'message' | 'error', fn: (arg: never) => void): unknown;
  on(event: 'message', fn: (m: { error?: string }) => void): unknown;
  unref(): void;
  terminate(): unknown;
}

/** True under Node (not in a browser or a Web Worker). */
export function isNode(): boolean {
  return typeof process !== 'undefined' && !!process.versions?.node;
}

let injected: NodeModules | null = null;

/** Called once by node-host.ts (the Node entry's side of this interface). */
export function setNodeModules(m: NodeModules): void {
  injected = m;
}

/** The Node built-ins, or null off Node. */
export function nodeModules(): NodeModules | null {
  if (injected || !isNode()) return injected;
  const get = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get !== 'function') {
    return fail('E_WASM', `Node ${process.version} has no process.getBuiltinModule: import 'slimwav' (or slimwav/dist/src/runtime/node-host.js) before this module`);
  }
  injected = {
    fs: get('node:fs/promises') as NodeModules['fs'],
    fsSync: get('node:fs') as NodeModules['fsSync'],
    url: get('node:url') as NodeModules['url'],
    v8: get('node:v8') as NodeModules['v8'],
    os: get('node:os') as NodeModules['os'],
    workerThreads: get('node:worker_threads') as NodeModules['workerThreads'],
  };
  return injected;
}
