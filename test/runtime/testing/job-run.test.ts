import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { defineJob, valueState } from '../../../runtime/api/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';

// A bounded job that sums per key and writes through a transactional collect sink: any loss or duplicate across a
// restart shows in the output.
const sums = defineJob({ name: 'harness-sums', parallelism: 2, checkpoints: { intervalMs: 20 } }, (env) => {
  env
    .source(datagen({ count: 4_000, batchSize: 50, record: (i) => ({ key: `k${i % 7}`, n: i }) }))
    // One source subtask: each key's records reach the reduce in one order, so even its partial sums are repeatable.
    .parallelism(1)
    .keyBy((r) => r.key)
    .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
    .uid('sums')
    .sink(collectSink())
    .uid('out');
});

function finalSums(records: Array<{ key: string; n: number }>): Map<string, { last: number; count: number }> {
  const out = new Map<string, { last: number; count: number }>();
  for (const r of records) out.set(r.key, { last: r.n, count: (out.get(r.key)?.count ?? 0) + 1 });
  return out;
}

test('a bounded job with seeded crashes commits exactly what a clean run commits, and reports the faults', async (t) => {
  const clean = await startJob(sums);
  t.after(() => clean.close());
  assert.equal(await clean.finished, 'finished');

  const faulty = await startJob(sums, { faults: { crashes: 4, seed: 7 } });
  t.after(() => faulty.close());
  assert.equal(await faulty.finished, 'finished');

  const expected = clean.outputs<{ key: string; n: number }>('out');
  const got = faulty.outputs<{ key: string; n: number }>('out');
  assert.equal(expected.length, 4_000);
  assert.deepEqual(finalSums(got), finalSums(expected));
  assert.deepEqual([...got].sort(byKeyAndN), [...expected].sort(byKeyAndN));

  const report = faulty.faults;
  assert.equal(report.planned.length, 4);
  assert.equal(report.fired.length, 4, `every planned fault fired: ${JSON.stringify(report)}`);
  assert.equal(report.pending, 0);
  const failures = faulty.events.filter((e) => e.type === 'attempt-failed');
  assert.equal(failures.length, 4, 'one failed attempt per fault');
  for (const [i, e] of failures.entries()) {
    assert.match(String((e as { error: Error }).error.message), new RegExp(`injected fault ${i + 1}/4 \\(seed 7`));
  }
  assert.equal(faulty.attempts, 5);
});

test('the same seed plans the same faults', async (t) => {
  const a = await startJob(sums, { faults: { crashes: 3, seed: 99 } });
  t.after(() => a.close());
  const b = await startJob(sums, { faults: { crashes: 3, seed: 99 } });
  t.after(() => b.close());
  assert.deepEqual(a.faults.planned, b.faults.planned);
  await Promise.all([a.finished, b.finished]);
  assert.deepEqual(a.faults.fired.map((f) => f.planned), a.faults.planned.map((p) => p.point));
});

test('advancing the manual clock fires a processing-time timer', async (t) => {
  const job = defineJob({ name: 'harness-timer' }, (env) => {
    env
      .source(datagen({ ratePerSecond: 1, record: (i) => ({ user: `u${i}` }) }))
      .keyBy((r) => r.user)
      .process({
        state: { seen: valueState<number>() },
        processElement(r, ctx) {
          ctx.state.seen.update(ctx.timers.currentProcessingTime());
          ctx.timers.registerProcessingTimeTimer(ctx.timers.currentProcessingTime() + 500);
          return `arrived ${r.user} at ${ctx.timers.currentProcessingTime()}`;
        },
        onTimer(timestamp, ctx) {
          return `timer of ${ctx.key} at ${timestamp}`;
        },
      })
      .sink(collectSink())
      .uid('out');
  });
  const run = await startJob(job, { clock: 'manual' });
  t.after(() => run.close());
  await run.advance(1_000);
  await run.until(() => run.outputs('out').length === 1);
  assert.deepEqual(run.outputs('out'), ['arrived u0 at 1000']);
  await run.advance(499);
  assert.deepEqual(run.outputs('out'), ['arrived u0 at 1000'], 'not due yet');
  await run.advance(1);
  await run.until(() => run.outputs('out').length === 2);
  assert.deepEqual(run.outputs('out'), ['arrived u0 at 1000', 'timer of u0 at 1500']);
  assert.equal(await run.stop(), 'cancelled');
});

function byKeyAndN(a: { key: string; n: number }, b: { key: string; n: number }): number {
  return a.key.localeCompare(b.key) || a.n - b.n;
}

test('the first advance() waits for a job still starting: a LevelDB job opens its working database before its source waits on the clock', async (t) => {
  const job = defineJob({ name: 'harness-leveldb-start', state: { backend: 'leveldb' } }, (env) => {
    env
      .source(datagen({ count: 2, ratePerSecond: 1, record: (i) => ({ user: `u${i % 1}` }) }))
      .keyBy((r) => r.user)
      .process({
        state: { n: valueState<number>() },
        processElement(r, ctx) {
          const n = (ctx.state.n.value() ?? 0) + 1;
          ctx.state.n.update(n);
          return `${r.user} ${n} at ${ctx.timers.currentProcessingTime()}`;
        },
      })
      .sink(collectSink())
      .uid('out');
  });
  const run = await startJob(job, { clock: 'manual' });
  t.after(() => run.close());
  await run.advance(1_000); // right after the start: the job is still reserving and opening its database
  await run.until(() => run.outputs('out').length === 1);
  await run.advance(1_000);
  await run.until(() => run.outputs('out').length === 2);
  assert.deepEqual(run.outputs('out'), ['u0 1 at 1000', 'u0 2 at 2000']);
  assert.equal(await run.finished, 'finished');
});
