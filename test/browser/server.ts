// The browser tests' server: slimwav's own (src/cli/serve.ts, `slimwav web`) over the repository, read-only, on
// 127.0.0.1 (random port). Paths under /coi/ are the same files sent with COOP same-origin + COEP require-corp (a
// cross-origin isolated page); every other path is sent without them.
import { startServer as serve, type StaticServer } from '../../src/cli/serve.js';

export type { StaticServer };

export function startServer(root: string): Promise<StaticServer> {
  return serve(root, { isolation: 'prefix', folders: ['dist', 'build', 'test', 'web', 'models', 'examples'] });
}
