#!/usr/bin/env node
// The slimwav command: thin shim over the compiled CLI (npm run build produces dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write('slimwav: not built yet; run `npm run build` in the slimwav clone\n');
  process.exit(1);
}
const { run } = await import(cli.href);
await run(process.argv.slice(2));
