/** Shared pieces of the Kafka source tests: producing numbered records and running a job until a condition holds. */
import type { Producer } from 'kafkajs';
import type { KafkaRecord } from '../../../connectors/kafka/index.ts';
import type { JobDefinition, Source, SourceReader, SourceReaderContext, SplitsChange } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner, type JobRunnerOptions } from '../../../runtime/runner/index.ts';
import { waitFor } from '../../support/wait-for.ts';

/** The value every test record carries: its global number. */
export interface Numbered {
  readonly i: number;
}

/** Produces records `from..to-1` as JSON `{ i }`, record i to partition `i % partitions`, 1,000 per send. */
export async function produceNumbered(producer: Producer, topic: string, partitions: number, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += 1000) {
    const messages = [];
    for (let i = start; i < Math.min(to, start + 1000); i++) messages.push({ partition: i % partitions, key: `k${i}`, value: JSON.stringify({ i }) });
    await producer.send({ topic, messages });
  }
}

/** Asserts-friendly summary of what a sink committed: numbers seen, and the ones seen more than once. */
export function tally(values: readonly number[]): { distinct: number; duplicates: number[] } {
  const seen = new Set<number>();
  const duplicates: number[] = [];
  for (const v of values) {
    if (seen.has(v)) duplicates.push(v);
    seen.add(v);
  }
  return { distinct: seen.size, duplicates };
}

/** Wraps a source so a test sees its readers and the split changes they report. */
export function observed<T>(source: Source<T>): { source: Source<T>; readers: SourceReader<T>[]; changes: SplitsChange[] } {
  const readers: SourceReader<T>[] = [];
  const changes: SplitsChange[] = [];
  return {
    readers,
    changes,
    source: {
      name: source.name,
      bounded: source.bounded,
      createReader(context: SourceReaderContext) {
        const reader = source.createReader({
          ...context,
          reportSplitsChanged: (change) => {
            changes.push(change);
            context.reportSplitsChanged(change);
          },
        });
        readers.push(reader);
        return reader;
      },
    },
  };
}

/**
 * Runs an unbounded job in the background: `until` is awaited, then the job is cancelled and the run's outcome
 * awaited. Failures of the run before `until` holds reject.
 */
export async function runUntil(
  options: Omit<JobRunnerOptions, 'store'> & { job: JobDefinition; dataDir?: string },
  until: (runner: JobRunner) => Promise<unknown>,
): Promise<JobRunner> {
  const store = options.dataDir === undefined ? undefined : await CheckpointStore.open(options.dataDir);
  try {
    const runner = new JobRunner({ ...options, ...(store === undefined ? {} : { store }) });
    const run = runner.run();
    let failed: unknown;
    run.catch((err: unknown) => (failed = err));
    try {
      await until(runner);
    } catch (err) {
      if (failed !== undefined) throw failed;
      throw err;
    } finally {
      runner.cancel('test done');
      await run.catch(() => undefined);
    }
    if (failed !== undefined) throw failed;
    return runner;
  } finally {
    await store?.close();
  }
}

/** Waits until `n` checkpoints completed after this call. */
export async function checkpointsCompleted(runner: JobRunner, n: number, timeoutMs = 20_000): Promise<void> {
  let seen = 0;
  const subscription = runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed') seen++;
  });
  try {
    await waitFor(() => seen >= n, { timeoutMs, message: `${n} more checkpoints` });
  } finally {
    subscription.unsubscribe();
  }
}

export type NumberedRecord = KafkaRecord<Numbered>;
