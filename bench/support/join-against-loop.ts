/**
 * The measuring half of the join benches (bench/interval-join.ts, bench/window-join.ts): a job that joins two
 * generated streams into a counting sink, against a hand-written loop doing the same join over the same records, run
 * after each other `runs` times. The two must join the same number of pairs; the figure is the job's median rate
 * against the loop's.
 */
import type { JobDefinition } from '../../runtime/api/index.ts';
import { runJob } from '../../runtime/testing/index.ts';
import { emitFigure, median } from './figure.ts';

/** What one side of the comparison measured: input records (both streams) per second, and the pairs it joined. */
export interface JoinRun {
  readonly perSecond: number;
  readonly pairs: number;
}

export interface JoinAgainstLoop {
  /** The figure's name, e.g. `join/window join p=1`. */
  readonly name: string;
  /** Records per stream. */
  readonly records: number;
  readonly runs: number;
  /** The hand-written join. */
  readonly loop: () => JoinRun;
  /** The job, given the counter its sink counts pairs in. */
  readonly job: (counter: { count: number }) => JobDefinition;
  /** What the figure's note says of the workload. */
  readonly workload: string;
}

/** Runs both `runs` times, checks they agree, and emits the figure. */
export async function joinAgainstLoop(bench: JoinAgainstLoop): Promise<void> {
  const loop: number[] = [];
  const job: number[] = [];
  for (let run = 0; run < bench.runs; run++) {
    const baseline = bench.loop();
    const counter = { count: 0 };
    const started = performance.now();
    await runJob(bench.job(counter));
    const joined: JoinRun = { perSecond: (2 * bench.records) / ((performance.now() - started) / 1000), pairs: counter.count };
    if (joined.pairs !== baseline.pairs) throw new Error(`the job joined ${joined.pairs} pairs, the loop ${baseline.pairs}`);
    loop.push(baseline.perSecond);
    job.push(joined.perSecond);
    process.stderr.write(`run ${run + 1}: loop ${Math.round(baseline.perSecond)}, p=1 ${Math.round(joined.perSecond)} records/s, ${joined.pairs} pairs\n`);
  }
  emitFigure({
    name: bench.name,
    value: median(job),
    unit: 'records/s',
    baseline: median(loop),
    note: `baseline: the same join as a hand-written loop over the same records; in-process, one thread each; 2 × ${bench.records} records, ${bench.workload}, median of ${bench.runs}; reported`,
  });
}
