// End-to-end benchmark: the same run as `slimwav bench` (src/cli/bench.ts, tinybench), from the sources.
//   npx tsx bench/e2e.ts [--seconds 10] [--iterations 3] [--threads 1,2] [--memory 10,60,600] [--no-ort] [--json]
import { bench } from '../src/cli/bench.js';

await bench(process.argv.slice(2));
