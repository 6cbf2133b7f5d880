/**
 * What the runtime and the file helpers need from Node, behind one small interface so that what browsers load
 * imports nothing from Node (not even dynamically: bundlers follow `import('node:…')`). The Node entry
 * (src/model.ts, through node-host.ts) injects it with static imports; modules loaded on their own under Node
 * (tests, the pruner) get the same built-ins from process.getBuiltinModule (Node >= 20.16), a call, not an import.
 */

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

/** Why nodeModules() is null under Node: too old for getBuiltinModule, and the Node entry was not imported. */
export const NO_NODE_HOST = 'this Node has no process.getBuiltinModule (it is older than 20.16): import \'slimwav\' before other slimwav modules';

/** The Node built-ins; null off Node, and under Node < 20.16 until the Node entry has injected them. */
export function nodeModules(): NodeModules | null {
  if (injected || !isNode()) return injected;
  const get = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof get !== 'function') return null;
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
