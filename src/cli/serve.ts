/**
 * `slimwav web`: serve the demo page (web/) and what it loads (dist/, build/, models/) from this checkout on
 * 127.0.0.1, with the headers a browser needs to run slimwav fast: Cross-Origin-Opener-Policy same-origin and
 * Cross-Origin-Embedder-Policy require-corp (a cross-origin isolated page, so worker threads can share memory) and
 * application/wasm (streaming compilation). Read-only, nothing downloaded; also the browser tests' server.
 */
import { createServer, type Server } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fail } from '../errors.js';
import { parseCommand, usageError } from './args.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.safetensors': 'application/octet-stream',
};

export interface ServeOptions {
  /** 0 (default) = any free port */
  port?: number;
  host?: string;
  /**
   * 'on' (default): every response carries COOP/COEP; 'off': none does; 'prefix': only paths under /coi/ do (the
   * same files, for tests that load one page both ways)
   */
  isolation?: 'on' | 'off' | 'prefix';
  /** top-level folders that may be served (default web, dist, build, models, examples) */
  folders?: string[];
}

export interface StaticServer { origin: string; close(): Promise<void> }

/** Serve `root` read-only; `/` redirects to /web/, a folder path to its index.html. */
export async function startServer(root: string, opts: ServeOptions = {}): Promise<StaticServer> {
  const folders = opts.folders ?? ['web', 'dist', 'build', 'models', 'examples'];
  const allowed = new RegExp(`^/(${folders.map((f) => f.replace(/[^\w-]/g, '')).join('|')})/`);
  const base = resolve(root);
  const server: Server = createServer(async (req, res) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    let isolated = opts.isolation !== 'off';
    if (opts.isolation === 'prefix') {
      isolated = path.startsWith('/coi/');
      if (isolated) path = path.slice('/coi'.length);
    }
    if (path === '/' || path === '/web') {
      res.writeHead(302, { location: (isolated && opts.isolation === 'prefix' ? '/coi' : '') + '/web/' }).end();
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(base, path));
    if (!file.startsWith(base + sep) || !allowed.test(path) || req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(403).end();
      return;
    }
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file');
      const body = await readFile(file);
      const ext = file.slice(file.lastIndexOf('.'));
      const headers: Record<string, string> = { 'content-type': TYPES[ext] ?? 'application/octet-stream', 'cache-control': 'no-store' };
      if (isolated) {
        headers['cross-origin-opener-policy'] = 'same-origin';
        headers['cross-origin-embedder-policy'] = 'require-corp';
      }
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`${path}: not found\n`);
    }
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', (err: NodeJS.ErrnoException) => bad(err.code === 'EADDRINUSE'
      ? fail('E_ARGS', `port ${opts.port} is already in use; pick another with --port`)
      : fail('E_IO', `cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? 0}: ${err.message}`)));
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', ok);
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') fail('E_IO', 'the server has no port');
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    origin: `http://${host}:${addr.port}`,
    close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
  };
}

/** `slimwav web [--port N] [--host H] [--no-isolation]`: serve the demo page until interrupted. */
export async function web(argv: string[]): Promise<void> {
  const { values } = parseCommand('web', argv, { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' }, 'no-isolation': { type: 'boolean' } }, []);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError('web', `--port must be a whole number from 0 to 65535, found "${values.port}"`);
  const root = fileURLToPath(new URL('../../', import.meta.url).href.replace(/\/dist\/$/, '/'));
  try {
    await stat(join(root, 'web', 'index.html'));
    await stat(join(root, 'dist', 'src', 'browser.js'));
  } catch {
    fail('E_IO', `${root}: no web/index.html or dist/src/browser.js here; run slimwav web from a built clone (npm run build)`);
  }
  const server = await startServer(root, { port, host: values.host as string, isolation: values['no-isolation'] ? 'off' : 'on' });
  process.stdout.write(`slimwav demo page: ${server.origin}/web/  (${values['no-isolation'] ? 'not cross-origin isolated: one thread' : 'cross-origin isolated: threads on'}; Ctrl-C stops)\n`);
  await new Promise<void>((done) => process.once('SIGINT', () => { void server.close().then(done); }));
}
