/**
 * A fast source in front of a slow sink: the channels between them stay within their byte capacity, the source is
 * paused instead of racing ahead, and the records in flight stay bounded by what the channels can hold.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { datagen } from '../../../connectors/dev/index.ts';
import { defineJob, type Sink, type Stream } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { estimateBatchBytes, estimateValueBytes, JobAttempt } from '../../../runtime/exec/index.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { systemClock } from '../../../runtime/time/index.ts';
import { waitFor } from '../../support/wait-for.ts';

interface Row {
  id: number;
  pad: string;
}

const BATCH = 100;
const row = (i: number): Row => ({ id: i, pad: 'x'.repeat(40) });
/** Every row has the same estimated size, so every full batch has the same size. */
const ROW_BYTES = estimateValueBytes(row(0));
const BATCH_BYTES = estimateBatchBytes(Array.from({ length: BATCH }, (_, i) => row(i)));

/** A sink whose every write takes a real timer tick (~1 ms): much slower than the generator. */
function slowSink(progress: { written: number; onWrite: () => void }): Sink<Row> {
  return {
    name: 'slow',
    createWriter: () => ({
      start: async () => {},
      write: async (records) => {
        progress.onWrite();
        progress.written += records.length;
        await sleep(1);
      },
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async () => {},
    }),
  };
}

interface Scenario {
  readonly name: string;
  readonly parallelism: number;
  readonly capacity: number;
  readonly edge: (rows: Stream<Row>) => Stream<Row>;
}

async function runSlowSink(t: test.TestContext, scenario: Scenario) {
  const progress = { written: 0, onWrite: () => {} };
  const job = defineJob(
    { name: `backpressure-${scenario.name}`, parallelism: scenario.parallelism, channelCapacityBytes: scenario.capacity },
    (env) => {
      scenario.edge(env.source(datagen({ splits: scenario.parallelism, batchSize: BATCH, record: row }))).sink(slowSink(progress));
    },
  );
  const plan = buildPhysicalPlan(job);
  assert.equal(plan.stages.length, 2, 'the scenario needs a channel between source and sink');
  const attempt = new JobAttempt({
    plan,
    attempt: 0,
    clock: systemClock,
    logger: silentLogger(),
    ...(job.options.channelCapacityBytes === undefined ? {} : { channelCapacityBytes: job.options.channelCapacityBytes }),
  });
  t.after(() => attempt.cancel('test over'));
  const sources = attempt.subtasks.filter((s) => s.isSource);
  assert.equal(sources.length, scenario.parallelism);
  const read = (): number => sources.reduce((n, s) => n + s.metrics.recordsIn, 0);

  // Records the sources have read but the sink has not been handed yet, sampled at every write and every poll.
  let maxInFlight = 0;
  const sample = (): void => {
    maxInFlight = Math.max(maxInFlight, read() - progress.written);
  };
  progress.onWrite = sample;

  const running = attempt.run();
  running.catch(() => {}); // awaited below; avoid an unhandled rejection while we wait
  await waitFor(
    () => {
      sample();
      return progress.written >= 200 * BATCH;
    },
    { timeoutMs: 20_000, message: '200 batches written by the slow sink', describe: () => ({ written: progress.written, read: read() }) },
  );
  attempt.cancel('enough');
  await assert.rejects(running, (err: unknown) => isSluiceError(err, 'SLUICE_CANCELLED'));
  return { attempt, sources, maxInFlight, read: read(), written: progress.written };
}

test('a slow sink behind a rebalance edge pauses the source; the channel never exceeds its capacity', async (t) => {
  const capacity = 2 * BATCH_BYTES + BATCH_BYTES / 2; // room for two whole batches, not three
  const { attempt, sources, maxInFlight, read, written } = await runSlowSink(t, {
    name: 'rebalance',
    parallelism: 1,
    capacity,
    edge: (rows) => rows.rebalance(),
  });

  assert.equal(attempt.channels.length, 1);
  const channel = attempt.channels[0];
  assert.equal(channel?.capacity, capacity);
  // channel.ts: queued bytes never exceed the capacity when every batch fits in it.
  assert.ok((channel?.maxQueuedBytes ?? Infinity) <= capacity, `max queued ${channel?.maxQueuedBytes} > capacity ${capacity}`);
  // ...and the channel did fill up (otherwise the bound above proves nothing).
  assert.ok((channel?.maxQueuedBytes ?? 0) > capacity - BATCH_BYTES, `max queued ${channel?.maxQueuedBytes} never came near ${capacity}`);

  const source = sources[0];
  assert.ok((source?.metrics.sourcePauses ?? 0) > 0, 'the source was paused by the full channel');
  assert.ok((source?.metrics.backpressuredMs ?? 0) > 0, 'the source spent time backpressured');

  // In flight: what the channel holds plus the one batch the source has read and is waiting to push.
  const bound = (Math.floor(capacity / BATCH_BYTES) + 1) * BATCH;
  assert.ok(maxInFlight <= bound, `source ran ${maxInFlight} records ahead of the sink (bound ${bound})`);
  assert.ok(read - written <= bound);
});

test('a batch larger than the capacity passes alone; hash channels stay within max(capacity, one batch)', async (t) => {
  const capacity = Math.floor(BATCH_BYTES / 4); // smaller than a full batch: each batch must be admitted alone
  const parallelism = 2;
  const { attempt, sources, maxInFlight } = await runSlowSink(t, {
    name: 'hash',
    parallelism,
    capacity,
    edge: (rows) => rows.keyBy((r) => r.id % 16).process({ processElement: (r) => r }),
  });

  assert.equal(attempt.channels.length, parallelism * parallelism);
  for (const channel of attempt.channels) {
    // The largest batch a hash edge can send one channel is a whole source batch.
    assert.ok(channel.maxQueuedBytes <= Math.max(capacity, BATCH_BYTES), `max queued ${channel.maxQueuedBytes}`);
    assert.ok(channel.maxQueuedBytes > 0, 'every channel carried records');
  }
  assert.ok(sources.every((s) => s.metrics.sourcePauses > 0), 'every source subtask was paused');
  assert.ok(sources.every((s) => s.metrics.backpressuredMs > 0), 'every source subtask spent time backpressured');

  // Per channel: either small batches up to the capacity or one oversized batch; per source: one batch mid-send.
  const perChannel = Math.max(Math.floor(capacity / ROW_BYTES), BATCH);
  const bound = attempt.channels.length * perChannel + parallelism * BATCH;
  assert.ok(maxInFlight <= bound, `sources ran ${maxInFlight} records ahead of the sinks (bound ${bound})`);
});
