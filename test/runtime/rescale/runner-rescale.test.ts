import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { collectSink, CollectTarget, datagen, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, type JobOptions, type Source } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner, type JobEvent, type JobRunnerOptions } from '../../../runtime/runner/index.ts';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { compareUpdates, keyedCount, KEYED_COUNT_MODULE } from '../runner/fixtures/keyed-count-to-files.ts';

const KEYS = 500;
const keyOf = (i: number): string => `k${(i * 7919) % KEYS}`;

interface Count {
  key: string;
  n: number;
}

function expectedCounts(records: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < records; i++) counts.set(keyOf(i), (counts.get(keyOf(i)) ?? 0) + 1);
  return counts;
}

function finalCounts(records: readonly Count[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const r of records) last.set(r.key, r.n);
  return last;
}

/** A keyed count over a rate-limited datagen, so rescales happen while records flow. */
function countingJob(options: Partial<JobOptions> & { records: number; rate: number }, target: CollectTarget<Count>, wrap = (s: Source<{ key: string }>) => s) {
  const { records, rate, ...jobOptions } = options;
  return defineJob({ name: 'rescale-count', parallelism: 2, checkpoints: { intervalMs: 40 }, ...jobOptions }, (env) => {
    env
      .source(wrap(datagen({ count: records, splits: 8, batchSize: 200, ratePerSecond: rate, record: (i) => ({ key: keyOf(i) }) })))
      .uid('numbers')
      .map((r) => ({ key: r.key, n: 1 }))
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .uid('count')
      .sink(collectSink(target))
      .uid('out');
  });
}

/**
 * The runner fixture's keyed count into part files (a job module, so it runs on workers too) over a slowed datagen
 * that holds back its end of input until the test calls `endInput()`: a rescale never races the job's end.
 */
async function filesRunner(t: TestContext, records: number, workers: number, options: Partial<JobRunnerOptions> = {}) {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  await mkdir(output);
  const gate = join(dir, 'end-of-input');
  const params = new JobParams([['output', output], ['records', String(records)], ['splits', '8'], ['batchSize', '200'], ['rate', '20000'], ['keys', String(KEYS)], ['holdEndUntil', gate]]);
  const runner = new JobRunner({ job: keyedCount, params, store, workers, jobModule: KEYED_COUNT_MODULE, ...options });
  /** Updates committed so far. */
  const committed = async (): Promise<number> => (await readPartFiles(output)).length;
  const endInput = (): Promise<void> => writeFile(gate, '');
  return { runner, output, committed, endInput };
}

for (const workers of [0, 2]) {
  test(`keyed counts stay exact through manual rescales 2 → 3 → 8 → 4 while records flow (workers ${workers})`, async (t) => {
    const RECORDS = 60_000;
    const { runner, output, committed, endInput } = await filesRunner(t, RECORDS, workers);
    const events: JobEvent[] = [];
    runner.events.subscribe((e) => events.push(e));
    const done = runner.run();

    for (const [to, after] of [[3, 8_000], [8, 20_000], [4, 35_000]] as const) {
      await waitFor(async () => (await committed()) >= after, { timeoutMs: 30_000, message: `never committed ${after} records` });
      const record = await runner.rescale(to);
      assert.equal(record.to, to);
      assert.equal(runner.plan.parallelism, to);
      assert.ok(record.durationMs >= 0 && record.checkpointId > 0);
    }
    await endInput();
    assert.equal(await done, 'finished');
    assert.equal(runner.workers, workers, 'ran on the workers asked for');
    const updates = await readPartFiles<Count>(output);
    assert.equal(updates.length, RECORDS, 'one committed update per record: none lost or duplicated across rescales');
    assert.deepEqual(compareUpdates(updates, expectedCounts(RECORDS)), []);
    assert.deepEqual(runner.rescales.map((r) => [r.from, r.to, r.trigger]), [[2, 3, 'manual'], [3, 8, 'manual'], [8, 4, 'manual']]);
    assert.equal(events.filter((e) => e.type === 'attempt-failed').length, 0, 'a rescale is not a failure');
    assert.deepEqual(events.filter((e) => e.type === 'attempt-started').map((e) => e.type === 'attempt-started' && e.parallelism), [2, 3, 8, 4]);
  });

  test(`a rescale requested while a checkpoint is in flight waits for it, then rescales exactly (workers ${workers})`, async (t) => {
    const RECORDS = 30_000;
    let holdStore: Promise<void> | undefined;
    let storing = false;
    const { runner, output, committed, endInput } = await filesRunner(t, RECORDS, workers, {
      // The store runs on the main thread, in either mode.
      beforeCheckpointStore: async () => {
        storing = true;
        await holdStore;
        storing = false;
      },
    });
    const done = runner.run();
    await waitFor(async () => (await committed()) >= 5_000, { timeoutMs: 30_000 });
    let release!: () => void;
    holdStore = new Promise((resolve) => (release = resolve));
    await waitFor(() => storing, { timeoutMs: 10_000, message: 'no checkpoint reached the store' });
    const rescaled = runner.rescale(5);
    setTimeout(release, 50);
    holdStore = undefined;
    assert.equal((await rescaled).to, 5);
    await endInput();
    assert.equal(await done, 'finished');
    assert.equal(runner.workers, workers, 'ran on the workers asked for');
    const updates = await readPartFiles<Count>(output);
    assert.equal(updates.length, RECORDS);
    assert.deepEqual(compareUpdates(updates, expectedCounts(RECORDS)), []);
  });
}

for (const workers of [0, 2]) {
  test(`a change in splits rescales under "match" and "divisor", and only warns under "fixed" (workers ${workers})`, async (t) => {
    for (const [policy, splits, expected] of [['match', 6, 6], ['divisor', 9, 3], ['fixed', 5, 2]] as const) {
      const dir = await tempDir(t);
      const store = await CheckpointStore.open(join(dir, 'data'));
      t.after(() => store.close());
      const output = join(dir, 'out');
      await mkdir(output);
      const RECORDS = 20_000;
      const params = new JobParams([['output', output], ['records', String(RECORDS)], ['splits', '8'], ['batchSize', '200'], ['rate', '20000'], ['keys', String(KEYS)], ['reportSplits', String(splits)]]);
      // The policy is applied on the main thread, where splits changes arrive; the workers build the module's plan,
      // which equals this one (the rescale options are not part of the plan).
      const job = defineJob({ ...keyedCount.options, rescale: { policy, maxParallelism: 8 } }, keyedCount.build);
      const logs: Array<{ level: number; msg: string }> = [];
      const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, cb) => (logs.push(JSON.parse(chunk.toString())), cb()) }));
      const runner = new JobRunner({ job, params, store, workers, jobModule: KEYED_COUNT_MODULE, logger });
      const events: JobEvent[] = [];
      runner.events.subscribe((e) => events.push(e));
      assert.equal(await runner.run(), 'finished');
      assert.equal(runner.workers, Math.min(workers, expected), 'ran on the workers asked for (at most one per subtask)');
      const updates = await readPartFiles<Count>(output);
      assert.equal(updates.length, RECORDS, `${policy}: one committed update per record`);
      assert.deepEqual(compareUpdates(updates, expectedCounts(RECORDS)), []);
      assert.equal(runner.plan.parallelism, expected, `${policy} → p=${expected}`);
      assert.equal(events.filter((e) => e.type === 'splits-changed').length, 1, 'repeated reports of the same change count once');
      assert.deepEqual(runner.rescales.map((r) => [r.from, r.to, r.trigger]), expected === 2 ? [] : [[2, expected, 'splits-changed']]);
      if (expected !== 2) assert.match(runner.rescales[0]?.reason ?? '', new RegExp(`now has ${splits} splits; policy "${policy}"`));
      else {
        const uneven = logs.filter((l) => l.level === 40 && l.msg.includes('splits over')).map((l) => l.msg);
        assert.deepEqual(uneven, ['source "numbers" has 5 splits over 2 subtasks: some read 3, others 2. Parallelism 5 splits them evenly (or set rescale: { policy: \'divisor\' })'], 'one warning naming the uneven split and a better parallelism');
      }
    }
  });
}

test('under "match" the first attempt starts at the source\'s split count', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const target = new CollectTarget<Count>();
  const job = countingJob({ records: 2_000, rate: 1_000_000, rescale: { policy: 'match', maxParallelism: 4 } }, target, (s) => ({ ...s, splitCount: async () => 6 }));
  const runner = new JobRunner({ job, store });
  assert.equal(await runner.run(), 'finished');
  assert.equal(runner.plan.parallelism, 4, 'six splits, capped at 4');
  assert.deepEqual(finalCounts(target.records), expectedCounts(2_000));
});

test('rescale refuses what it cannot do, and says why', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const target = new CollectTarget<Count>();
  const runner = new JobRunner({ job: countingJob({ records: 1_000_000, rate: 10_000 }, target), store });
  await assert.rejects(runner.rescale(3), { code: 'SLUICE_JOB_NOT_RUNNING' });
  const done = runner.run();
  await waitFor(() => runner.lastCheckpoint !== undefined, { timeoutMs: 10_000 });
  await assert.rejects(runner.rescale(2), { code: 'SLUICE_RESCALE_UNCHANGED' });
  await assert.rejects(runner.rescale(500), { name: 'JobValidationError' });
  assert.equal(runner.plan.parallelism, 2, 'still running as before');
  const first = runner.rescale(3);
  await assert.rejects(runner.rescale(4), { code: 'SLUICE_RESCALE_IN_PROGRESS' });
  await first;
  runner.cancel();
  assert.equal(await done, 'cancelled');

  const plain = new JobRunner({ job: countingJob({ records: 1_000_000, rate: 10_000, checkpoints: false }, new CollectTarget<Count>()) });
  const running = plain.run();
  await waitFor(() => plain.state === 'running', { timeoutMs: 5_000 });
  await assert.rejects(plain.rescale(3), { code: 'SLUICE_RESCALE_NEEDS_CHECKPOINTS', message: /enable checkpoints/ });
  plain.cancel();
  await running;
});
