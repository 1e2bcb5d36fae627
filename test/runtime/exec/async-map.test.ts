/**
 * asyncMap (runtime/exec/operators/async-map-operator.ts): every input gives its output exactly once — through a
 * restart with records in flight, a rescale, timeouts of a lookup that stalls (fallback outputs) and rejections
 * (skipped) — in-process and on worker threads; ordered mode keeps each subtask's order.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectSink, CollectTarget, collection, datagen, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { buildPhysicalPlan, JobValidationError } from '../../../runtime/graph/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertCountedPerKey, indexesByKey } from '../../support/counted-per-key.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import asyncLookup, { keyOf, rejects, valueOf, type Looked } from './fixtures/async-lookup.ts';

const RECORDS = 6_000;
const FIXTURE = new URL('./fixtures/async-lookup.ts', import.meta.url);

/** Per key: every index not rejected, once, with its looked-up value, counted 1..n; `ordered`: per split in order. */
function assertExact(written: readonly Looked[], ordered: boolean): void {
  for (const r of written) assert.equal(r.v, valueOf(r.i), `value of ${r.i}`);
  // datagen's 2 splits hold contiguous halves; in ordered mode records of one split reach the count in their order.
  const splitOf = (i: number): number | undefined => (ordered ? (i < RECORDS / 2 ? 0 : 1) : undefined);
  assertCountedPerKey(written.map((r) => ({ key: r.key, index: r.i, count: r.count })), indexesByKey(RECORDS, keyOf, (i) => !rejects(i)), splitOf);
}

async function run(t: import('node:test').TestContext, options: { workers: number; order: 'ordered' | 'unordered'; rescaleTo?: number }): Promise<{ written: Looked[]; inFlightStored: number; runner: JobRunner }> {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  const runner = new JobRunner({
    job: asyncLookup as JobDefinition,
    params: new JobParams([['output', output], ['records', String(RECORDS)], ['order', options.order], ['failAt', String(RECORDS / 3)]]),
    store,
    workers: options.workers,
    jobModule: FIXTURE,
  });
  // Checkpoints that stored records in flight: the operator state of the asyncMap.
  let inFlightStored = 0;
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed' && e.manifest.blobs.some((b) => b.operatorUid === 'lookup')) inFlightStored++;
  });
  const done = runner.run();
  if (options.rescaleTo !== undefined) {
    await waitFor(() => runner.attempts >= 2 && runner.state === 'running' && (runner.lastCheckpoint?.id ?? 0) > 0, { timeoutMs: 60_000, message: 'the restarted attempt to run' });
    await runner.rescale(options.rescaleTo);
  }
  assert.equal(await done, 'finished');
  return { written: await readPartFiles<Looked>(output), inFlightStored, runner };
}

for (const workers of [0, 2]) {
  test(`ordered asyncMap: exactly once and in order through a restart with records in flight (workers ${workers})`, async (t) => {
    const { written, inFlightStored, runner } = await run(t, { workers, order: 'ordered' });
    assert.ok(runner.attempts >= 2, 'the seeded failure restarted the job');
    assertExact(written, true);
    assert.ok(inFlightStored > 0, 'checkpoints stored records in flight');
  });
}

test('unordered asyncMap: exactly once through a restart and a rescale 2 → 3 with records in flight', async (t) => {
  const { written, runner } = await run(t, { workers: 0, order: 'unordered', rescaleTo: 3 });
  assert.equal(runner.plan.parallelism, 3);
  assertExact(written, false);
});

/** A job over 1..20 whose lookup never answers multiples of 5, with the given timeout policy. */
function stallingJob(onTimeout: 'fail' | 'skip', target: CollectTarget<number>): JobDefinition {
  return defineJob({ name: `async-timeout-${onTimeout}`, restart: { type: 'none' } }, (env) =>
    void env
      .source(collection(Array.from({ length: 20 }, (_, i) => i + 1)))
      .asyncMap((n, signal) => new Promise<number>((resolve, reject) => {
        if (n % 5 === 0) signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        else setTimeout(() => resolve(n * 10), n % 3);
      }), { timeoutMs: 50, onTimeout, order: 'ordered' })
      .uid('lookup')
      .sink(collectSink(target)),
  );
}

test("onTimeout 'skip' drops what timed out and keeps the order of the rest; 'fail' fails the job saying what to change", async () => {
  const kept = new CollectTarget<number>();
  const skipping = new JobRunner({ job: stallingJob('skip', kept), workers: 0 });
  assert.equal(await skipping.run(), 'finished');
  assert.deepEqual(kept.records, [1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19].map((n) => n * 10));
  assert.equal(skipping.metrics()[0]?.recordsSkipped, 4);

  const failing = new JobRunner({ job: stallingJob('fail', new CollectTarget<number>()), workers: 0 });
  await assert.rejects(failing.run(), /operator "lookup" .*a record took longer than timeoutMs \(50 ms\); raise timeoutMs, or set onTimeout to 'skip'/);
});

test('an answer due before its timeout is kept, even when a stall of the process makes both due at once', async () => {
  // Record 0 never answers: its timeout, due at t0 + 50, heads Node's list of 50 ms timers. Record 1, issued ~40 ms
  // later, answers after 19 ms, but its lookup then blocks the process for 80 ms, past its own timeout. Node runs due
  // timers list by list, so the 50 ms list (both timeouts) would run before record 1's 19 ms answer.
  const target = new CollectTarget<number>();
  const job = defineJob({ name: 'async-stall', restart: { type: 'none' } }, (env) =>
    void env
      .source(datagen({ count: 2, batchSize: 1, ratePerSecond: 25, record: (i) => i }))
      .asyncMap(
        (n, signal) =>
          new Promise<number>((resolve, reject) => {
            if (n === 0) return void signal.addEventListener('abort', () => reject(signal.reason), { once: true });
            setTimeout(() => resolve(n * 10), 19);
            const until = Date.now() + 80;
            while (Date.now() < until); // the stall
          }),
        { timeoutMs: 50, onTimeout: () => -1, order: 'unordered' },
      )
      .uid('lookup')
      .sink(collectSink(target)),
  );
  assert.equal(await new JobRunner({ job, workers: 0 }).run(), 'finished');
  assert.deepEqual([...target.records].sort((a, b) => a - b), [-1, 10], 'record 0 timed out; record 1 answered in time');
});

test('asyncMap options are checked when the job is planned', () => {
  const bad = defineJob({ name: 'bad-async' }, (env) =>
    void env
      .source(collection([1, 2]))
      .asyncMap(async (n) => n, { concurrency: 0, timeoutMs: -1, order: 'random' as never, onTimeout: 'retry' as never })
      .uid('lookup')
      .sink({ name: 'x', createWriter: () => ({}) as never }),
  );
  assert.throws(
    () => buildPhysicalPlan(bad),
    (err: unknown) =>
      err instanceof JobValidationError &&
      ['concurrency must be an integer from 1 to 100000, got 0', 'timeoutMs must be a positive number of milliseconds, got -1', "order must be 'ordered' or 'unordered'", "onTimeout must be 'fail', 'skip' or a function"].every((m) => err.problems.some((p) => p.startsWith('asyncMap "lookup"') && p.includes(m))),
  );
});
