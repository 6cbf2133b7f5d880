// slimwav's worker, plus a fault: an extract request throws outside any handler (an uncaught error, as a bug or an
// out-of-memory in a real worker would) instead of running, so the caller's pending promise must reject, not hang.
import '../../dist/src/worker.js';

const real = self.onmessage;
self.onmessage = (e) => {
  if (e.data?.type === 'extract') throw new Error('simulated crash in the worker');
  real(e);
};
