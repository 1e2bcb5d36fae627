import { JobParams } from '../runtime/api/index.ts';
import { JobRunner } from '../runtime/runner/index.ts';
import cpuJob from './support/cpu-job.ts';
const jobModule = new URL('./support/cpu-job.ts', import.meta.url);
const workers = Number(process.argv[2] ?? 2);
const runner = new JobRunner({ job: cpuJob, params: new JobParams([['records', process.argv[3] ?? '3000000'], ['spin', process.argv[4] ?? '1189']]), workers, jobModule });
const t = performance.now();
await runner.run();
process.stderr.write(`workers ${workers}: ${((performance.now() - t) / 1000).toFixed(2)} s\n`);
