// Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core, never a
// downloaded browser; our static server (src/cli/serve.ts) over the repository. `skipReason()` says why the tests
// cannot run here (then they print it and skip).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext } from 'playwright-core';
import { startServer, type StaticServer } from './server.js';

export const CHROMIUM = process.env.SLIMWAV_CHROMIUM || '/usr/bin/chromium'; // override only to test the skip
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function skipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not found (apt-get install -y chromium; .ci/run does this)`;
  if (!existsSync(join(ROOT, 'dist', 'src', 'browser.js'))) return 'dist/src/browser.js not built (npm run build)';
  return null;
}

export interface Browser { context: BrowserContext; server: StaticServer; close(): Promise<void> }

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const server = await startServer(ROOT);
  const profile = mkdtempSync(join(tmpdir(), 'slimwav-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run'],
      viewport: { width: 1280, height: 900 },
      timeout: 60_000,
    });
  } catch (err) {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    server,
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
