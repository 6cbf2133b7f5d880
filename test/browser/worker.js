import { runCase } from './run.js';
self.onmessage = async (e) => self.postMessage(await runCase(e.data));
