/**
 * `JobRun.keyedState` and `JobRun.operatorState`: a test reads what a job's state holds in its last checkpoint,
 * after crashes and restores, as exactly as its output.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection, collectSink } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { startJob, type KeyedStateEntry } from '../../../runtime/testing/index.ts';
import { expectedFinalState, LEVELDB_STATE, sessionsJob } from '../checkpoint/fixtures/incremental-sessions.ts';
import broadcastRates, { RATES } from '../exec/fixtures/broadcast-rates.ts';
import { tempDir } from '../../support/temp-dir.ts';

function byStateAndKey(entries: readonly KeyedStateEntry[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const e of entries) {
    assert.ok(!out.has(`${e.state}|${e.key}`), `${e.state} of ${String(e.key)} read once`);
    out.set(`${e.state}|${e.key}`, e.value);
  }
  return out;
}

for (const [backend, state] of [['heap', undefined], ['leveldb', LEVELDB_STATE]] as const) {
  test(`keyedState() after seeded crashes holds each key's final state exactly (${backend} backend)`, async (t) => {
    const run = await startJob(sessionsJob(state), { faults: { crashes: 3, seed: 4 }, checkpointIntervalMs: 20 });
    t.after(() => run.close());
    assert.equal(await run.finished, 'finished');
    assert.equal(run.faults.fired.length, 3, 'every planned crash happened');

    const want = new Map<string, unknown>();
    for (const [key, s] of expectedFinalState()) {
      want.set(`count|${key}`, s.count);
      if (s.buckets.size > 0) want.set(`buckets|${key}`, s.buckets);
      if (s.recent.length > 0) want.set(`recent|${key}`, s.recent);
    }
    assert.deepEqual(byStateAndKey(await run.keyedState('sessions')), want);

    const one = [...expectedFinalState().keys()][0]!;
    assert.deepEqual(
      (await run.keyedState('sessions', { keys: [one], state: 'count' })).map((e) => [e.key, e.value]),
      [[one, expectedFinalState().get(one)!.count]],
    );
    await assert.rejects(run.keyedState('records'), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_NO_KEYED_STATE') && /operators with keyed state: sessions/.test((e as Error).message));
  });
}

test('keyedState() of a job without checkpoints says what it needs', async (t) => {
  const job = defineJob({ name: 'no-checkpoints' }, (env) => {
    env.source(collection([1, 2, 3])).keyBy((n) => n % 2).reduce((a, b) => a + b).sink(collectSink()).uid('out');
  });
  const run = await startJob(job);
  t.after(() => run.close());
  await run.finished;
  await assert.rejects(run.keyedState('reduce-1'), /keyedState\(\) reads checkpoints: the job takes none; enable checkpoints in defineJob/);
});

test('operatorState() after seeded crashes holds the broadcast state every subtask restores, stored once', async (t) => {
  const dir = await tempDir(t);
  const run = await startJob(broadcastRates, { params: { output: dir, records: '400' }, faults: { crashes: 2, seed: 3 }, checkpointIntervalMs: 20 });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  const stored = await run.operatorState('price');
  assert.deepEqual(stored.map((e) => [e.subtask, e.state === undefined]), [[0, false], [1, true]], 'subtask 0 stores it: every subtask holds the same');
  assert.deepEqual(Object.fromEntries((stored[0]!.state as { rates: Array<[string, number]> }).rates), RATES);
  assert.ok(stored.every((e) => Number.isInteger(e.watermark) && e.watermark! >= 0 && e.watermark! <= 398), 'each subtask stores its last watermark before the end of input (+∞ is not stored)');
  await assert.rejects(run.operatorState('no-such-uid'), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_NO_OPERATOR_STATE') && /operators with operator state: orders, rates, price, out/.test((e as Error).message));
  await assert.rejects(run.operatorState('price', { checkpoint: 999_999 }), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_NOT_FOUND'));
});
