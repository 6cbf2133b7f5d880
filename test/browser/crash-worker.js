// slimwav's worker, plus a fault: an extract request (or a stream push of 4321 samples) throws outside any handler
// (an uncaught error, as a bug or an out-of-memory in a real worker would) instead of running, so the caller's pending
// promise must reject, not hang.
import '../../dist/src/worker.js';

const real = self.onmessage;
self.onmessage = (e) => {
  if (e.data?.type === 'extract') throw new Error('simulated crash in the worker');
  // mid-stream: a push of exactly 4321 samples crashes the worker (earlier pushes run)
  if (e.data?.type === 'push' && e.data.block?.length === 4321) throw new Error('simulated crash in the worker mid-stream');
  real(e);
};
