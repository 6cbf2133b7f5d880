/**
 * The Node side of host.ts: hands slimwav its Node built-ins through static imports. Imported for its effect by
 * the Node entry (src/model.ts) only; nothing reachable from slimwav/browser imports it.
 */
import * as fs from 'node:fs/promises';
import * as fsSync from 'node:fs';
import * as url from 'node:url';
import * as v8 from 'node:v8';
import * as os from 'node:os';
import * as workerThreads from 'node:worker_threads';
import { setNodeModules, type NodeModules } from './host.js';

setNodeModules({ fs, fsSync, url, v8, os, workerThreads: workerThreads as unknown as NodeModules['workerThreads'] });
