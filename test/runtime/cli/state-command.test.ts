/**
 * `sluice state <job> --data-dir <dir>` reads a job's keyed state out of a checkpoint, as a restore would see it:
 * chains of deltas merged, deleted keys gone, whichever backend wrote them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { CheckpointStore, checkpointDbPath, type CheckpointManifest } from '../../../runtime/checkpoint/index.ts';
import { gatherCheckpoint } from '../../../runtime/checkpoint/checkpoint-blobs.ts';
import { stateCommand } from '../../../runtime/cli/commands/state.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import type { SubtaskAck } from '../../../runtime/exec/index.ts';
import { checkpointToRead, keyedOperatorsOf, readKeyedState, readTimers, type KeyedStateEntry } from '../../../runtime/inspect/keyed-state-reader.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { HeapKeyedStateBackend, keyGroupOf, type StateKey } from '../../../runtime/state/index.ts';
import { expectedFinalState } from '../checkpoint/fixtures/incremental-sessions.ts';
import { RATES } from '../exec/fixtures/broadcast-rates.ts';
import { runSluice } from '../../support/sluice-cli.ts';
import { tempDir } from '../../support/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../checkpoint/fixtures/', import.meta.url));
const M = 8;

/** Three checkpoints of one operator ("counts"): string and number keys, value and map state, deletes in deltas. */
async function writeCheckpoints(t: TestContext): Promise<{ dir: string; expected: Map<number, Map<string, unknown>>; timers: Map<number, Set<string>> }> {
  const dir = join(await tempDir(t), 'data');
  const store = await CheckpointStore.open(dir);
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true });
  const count = backend.getValueState<number>('count');
  const seen = backend.getMapState<string, number>('seen');
  const live = new Map<string, unknown>(); // `${state}|${typeof key}|${key}` → value
  const set = (key: StateKey, n: number): void => {
    backend.setCurrentKey(key);
    count.update(n);
    seen.put(`p${n % 3}`, n);
    live.set(`count|${typeof key}|${key}`, n);
    live.set(`seen|${typeof key}|${key}`, Object.fromEntries([...seen.entries()]));
  };
  const drop = (key: StateKey): void => {
    backend.setCurrentKey(key);
    count.clear();
    seen.clear();
    live.delete(`count|${typeof key}|${key}`);
    live.delete(`seen|${typeof key}|${key}`);
  };
  const expected = new Map<number, Map<string, unknown>>();
  const pending = new Set<string>(); // `${domain}|${typeof key}|${key}|${timestamp}`
  const timers = new Map<number, Set<string>>();
  const timer = (key: StateKey, domain: 'processing-time' | 'event-time', timestamp: number, on: boolean): void => {
    backend.setCurrentKey(key);
    if (domain === 'processing-time') (on ? backend.registerTimer(timestamp) : backend.deleteTimer(timestamp));
    else on ? backend.registerEventTimeTimer(timestamp) : backend.deleteEventTimeTimer(timestamp);
    (on ? pending.add.bind(pending) : pending.delete.bind(pending))(`${domain}|${typeof key}|${key}|${timestamp}`);
  };
  let parent: CheckpointManifest | undefined;
  for (let id = 1; id <= 3; id++) {
    if (id === 1) {
      for (let k = 0; k < 200; k++) set(k % 2 === 0 ? k : String(k), k);
      for (let k = 0; k < 40; k += 3) timer(k % 2 === 0 ? k : String(k), k % 6 === 0 ? 'event-time' : 'processing-time', 1_000 + k, true);
    } else {
      timer(id === 2 ? 0 : '3', id === 2 ? 'event-time' : 'processing-time', id === 2 ? 1_000 : 1_003, false);
      timer(id * 100, 'event-time', 5_000 + id, true);
      for (let k = id * 10; k < id * 10 + 15; k++) set(k % 2 === 0 ? k : String(k), k * id);
      for (let k = 100 + id; k < 200; k += 9) drop(k % 2 === 0 ? k : String(k));
    }
    const snapshot = await backend.snapshot(id);
    const ack: SubtaskAck = { checkpointId: id, stage: 0, subtask: 0, operators: [{ uid: 'counts', snapshot: { keyed: snapshot.keyGroups, ...(snapshot.incremental === undefined ? {} : { incremental: snapshot.incremental }) } }] };
    const header = { job: 'inspect', id, kind: 'checkpoint' as const, timestamp: id, durationMs: 1, parallelism: 1, maxParallelism: M, sourcePositions: {} };
    parent = await store.write({ ...header, operators: [{ uid: 'counts', name: 'process', parallelism: 1, stateful: true }] }, gatherCheckpoint([ack], parent).blobs, { retain: 5 });
    expected.set(id, new Map(live));
    timers.set(id, new Set(pending));
  }
  await store.close(); // the store is read by another open, as `sluice state` reads it
  return { dir, expected, timers };
}

function asMap(entries: readonly KeyedStateEntry[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const e of entries) {
    const id = `${e.state}|${typeof e.key}|${e.key}`;
    assert.ok(!out.has(id), `${id} appears once`);
    out.set(id, e.value instanceof Map ? Object.fromEntries(e.value) : e.value);
  }
  return out;
}

async function readAll(iterable: AsyncIterable<KeyedStateEntry>): Promise<KeyedStateEntry[]> {
  const out: KeyedStateEntry[] = [];
  for await (const e of iterable) out.push(e);
  return out;
}

test('readKeyedState and readTimers give each checkpoint exactly its state and timers: chains merged, deleted keys gone, keys keep their type', async (t) => {
  const { dir, expected, timers } = await writeCheckpoints(t);
  const store = await CheckpointStore.openExisting(dir);
  t.after(() => store.close());
  for (const [id, want] of expected) {
    const checkpoint = await store.load('inspect', id);
    assert.deepEqual(asMap(await readAll(readKeyedState(checkpoint, 'counts'))), want, `checkpoint ${id}`);
    const pending = new Set<string>();
    for await (const tm of readTimers(checkpoint, 'counts')) pending.add(`${tm.timer}|${typeof tm.key}|${tm.key}|${tm.timestamp}`);
    assert.deepEqual(pending, timers.get(id), `checkpoint ${id}: timers`);
  }
  const latest = await store.load('inspect', 3);
  assert.ok(latest.manifest.blobs.some((ref) => ref.delta === true), 'the checkpoint read holds deltas');
  assert.deepEqual(keyedOperatorsOf(latest.manifest).map((op) => [op.uid, op.name, op.keyGroups]), [['counts', 'process', M]]);

  const seven = await readAll(readKeyedState(latest, 'counts', { keys: ['7', 8], state: 'count' }));
  assert.deepEqual(seven.map((e) => [e.key, e.value]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))), [['7', 7], [8, 8]]);
  assert.deepEqual(await readAll(readKeyedState(latest, 'counts', { keys: [7, '8'] })), [], 'the key 7 is not the key "7"');

  await assert.rejects(readAll(readKeyedState(latest, 'totals')), (e: unknown) => isSluiceError(e, 'SLUICE_STATE_NO_KEYED_STATE') && /operator "totals" has no keyed state in checkpoint 3 of job "inspect" \(operators with keyed state: counts\)/.test((e as Error).message));
});

test('a checkpoint read in part checks only the blobs it reads: a lookup elsewhere works, one that meets a damaged blob says so', async (t) => {
  const { dir, expected } = await writeCheckpoints(t);
  const damagedGroup = keyGroupOf(8, M);
  let damagedKey = '';
  {
    const store = await CheckpointStore.openExisting(dir);
    const manifest = (await store.load('inspect', 3, { checkAsRead: true })).manifest;
    damagedKey = manifest.blobs.find((ref) => ref.operatorUid === 'counts' && ref.keyGroup === damagedGroup)!.key;
    await store.close();
  }
  const db = new Level<string, Uint8Array>(checkpointDbPath(dir), { valueEncoding: 'view' });
  const bytes = await db.get(damagedKey);
  await db.put(damagedKey, bytes!.map((b) => b ^ 0xff));
  await db.close();

  const store = await CheckpointStore.openExisting(dir);
  t.after(() => store.close());
  const checkpoint = (await checkpointToRead(store, 'inspect'))!;
  assert.equal(checkpoint.manifest.id, 3, 'the newest checkpoint, chosen without reading its blobs');
  const elsewhere = [...expected.get(3)!.keys()].map((id) => id.split('|')).find(([state, type, key]) => state === 'count' && keyGroupOf(type === 'number' ? Number(key) : key!, M) !== damagedGroup)!;
  const key = elsewhere[1] === 'number' ? Number(elsewhere[2]) : elsewhere[2]!;
  assert.deepEqual((await readAll(readKeyedState(checkpoint, 'counts', { keys: [key], state: 'count' }))).map((e) => e.value), [expected.get(3)!.get(`count|${elsewhere[1]}|${elsewhere[2]}`)]);
  await assert.rejects(readAll(readKeyedState(checkpoint, 'counts', { keys: [8] })), (e: unknown) => isSluiceError(e, 'SLUICE_CHECKPOINT_CORRUPT') && /checkpoint 3 of job "inspect" is damaged: blob .* failed its checksum; read an earlier checkpoint/.test((e as Error).message));
});

test('sluice state: a number given as --key finds the numeric key and the string key; flags that need --operator say so', async (t) => {
  const { dir } = await writeCheckpoints(t);
  const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const out = new PassThrough();
    const err = new PassThrough();
    let text = '';
    let errText = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    err.on('data', (d: Buffer) => (errText += d.toString()));
    const code = await stateCommand(args, silentLogger(), out, err);
    return { code, out: text, err: errText };
  };
  const both = await run(['inspect', '--data-dir', dir, '--operator', 'counts', '--state', 'count', '--key', '7', '--key', '8', '--checkpoint', '1']);
  assert.equal(both.code, 0);
  assert.deepEqual(both.out.trim().split('\n').map((l) => JSON.parse(l) as unknown).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
    { state: 'count', kind: 'value', key: '7', value: 7 },
    { state: 'count', kind: 'value', key: 8, value: 8 },
  ]);
  const limited = await run(['inspect', '--data-dir', dir, '--operator', 'counts', '--limit', '5']);
  assert.equal(limited.out.trim().split('\n').length, 5);
  const none = await run(['inspect', '--data-dir', dir, '--operator', 'counts', '--key', 'nobody']);
  assert.equal(none.out, '');
  assert.match(none.err, /operator "counts" holds no entries for key "nobody" in checkpoint 3/);
  const summary = await run(['inspect', '--data-dir', dir]);
  assert.match(summary.out, /^checkpoint 3 of job "inspect"/);
  assert.match(summary.out, /\ncounts +process +8 +\d/);
  await assert.rejects(run(['inspect', '--data-dir', dir, '--key', '7']), /--key selects entries of an operator: give --operator <uid> too/);
  const timerLines = await run(['inspect', '--data-dir', dir, '--operator', 'counts', '--timers', '--key', '6']);
  assert.deepEqual(timerLines.out.trim().split('\n').map((l) => JSON.parse(l) as unknown), [{ timer: 'event-time', key: 6, timestamp: 1_006 }]);
  await assert.rejects(run(['inspect', '--data-dir', dir, '--operator', 'counts', '--timers', '--state', 'count']), /--timers prints the timers of keys, which belong to no named state/);
  await assert.rejects(run(['inspect', '--data-dir', dir, '--file', 'x.sluice-export']), /--file reads the checkpoint the file holds: leave out --data-dir and --checkpoint/);
  await assert.rejects(run(['inspect', '--data-dir', dir, '--limit', '0']), /--limit expects a positive integer/);
});

test('sluice state --file reads the checkpoint an export file holds, without a data directory', async (t) => {
  const { dir, expected } = await writeCheckpoints(t);
  const file = join(dir, '..', 'inspect.sluice-export');
  const store = await CheckpointStore.openExisting(dir);
  try {
    await store.exportTo('inspect', 2, file);
  } finally {
    await store.close();
  }
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  assert.equal(await stateCommand(['--file', file, '--operator', 'counts'], silentLogger(), out, new PassThrough()), 0);
  const entries = text.trim().split('\n').map((line) => JSON.parse(line) as KeyedStateEntry);
  assert.deepEqual(asMap(entries), expected.get(2));

  let summary = '';
  const summaryOut = new PassThrough().on('data', (d: Buffer) => (summary += d.toString()));
  assert.equal(await stateCommand(['inspect', '--file', file], silentLogger(), summaryOut, new PassThrough()), 0);
  assert.match(summary, /^the checkpoint in .*inspect\.sluice-export of job "inspect"/);
  await assert.rejects(stateCommand(['orders', '--file', file], silentLogger(), new PassThrough(), new PassThrough()), /holds a checkpoint of job "inspect", not "orders"/);
});

for (const [backend, fixture] of [['heap', 'incremental-sessions.ts'], ['leveldb', 'incremental-sessions-leveldb.ts']] as const) {
  test(`sluice state prints the final state of a job run with incremental checkpoints on the ${backend} backend, key for key`, async (t) => {
    const dir = await tempDir(t);
    const data = join(dir, 'data');
    const ran = await runSluice(['run', join(FIXTURES, fixture), '--data-dir', data, '--set', `output=${join(dir, 'out')}`], { cwd: ROOT });
    assert.equal(ran.code, 0, ran.stderr);
    const listed = await runSluice(['checkpoints', 'incremental-sessions', '--data-dir', data, '--json'], { cwd: ROOT });
    const newest = (JSON.parse(listed.stdout) as Array<{ incremental: boolean; writtenBytes: number; totalBytes: number }>)[0]!;
    assert.ok(newest.incremental, 'the checkpoint read is incremental');

    const printed = await runSluice(['state', 'incremental-sessions', '--data-dir', data, '--operator', 'sessions'], { cwd: ROOT });
    assert.equal(printed.code, 0, printed.stderr);
    const got = new Map<string, unknown>();
    for (const line of printed.stdout.trim().split('\n')) {
      const { state, kind, key, value } = JSON.parse(line) as { state: string; kind: string; key: string; value: unknown };
      assert.ok(!got.has(`${state}|${key}`), `${state} of ${key} printed once`);
      got.set(`${state}|${key}`, [kind, value]);
    }
    const want = new Map<string, unknown>();
    for (const [key, s] of expectedFinalState()) {
      want.set(`count|${key}`, ['value', s.count]);
      if (s.buckets.size > 0) want.set(`buckets|${key}`, ['map', Object.fromEntries([...s.buckets].map(([b, n]) => [String(b), n]))]);
      if (s.recent.length > 0) want.set(`recent|${key}`, ['list', s.recent]);
    }
    assert.equal(got.size, want.size, 'as many entries as keys with state, per state');
    assert.deepEqual(got, want);
  });
}

test('sluice state --operator-state prints what each subtask stored: the broadcast state of a job run to its end, and a sink\'s', async (t) => {
  const dir = await tempDir(t);
  const data = join(dir, 'data');
  const fixture = fileURLToPath(new URL('../exec/fixtures/broadcast-rates.ts', import.meta.url));
  const ran = await runSluice(['run', fixture, '--data-dir', data, '--set', `output=${join(dir, 'out')}`, '--set', 'records=400'], { cwd: ROOT });
  assert.equal(ran.code, 0, ran.stderr);

  const listed = await runSluice(['state', 'broadcast-rates', '--data-dir', data, '--json'], { cwd: ROOT });
  assert.equal(listed.code, 0, listed.stderr);
  const { operators, operatorState } = JSON.parse(listed.stdout) as { operators: Array<{ uid: string }>; operatorState: Array<{ uid: string; name: string; subtasks: number }> };
  assert.deepEqual(operators.map((op) => op.uid), ['price']);
  assert.deepEqual(operatorState.map(({ uid, name, subtasks }) => ({ uid, name, subtasks })), [
    { uid: 'orders', name: 'datagen', subtasks: 2 }, // the watermark of each split, for a restore to start from
    { uid: 'rates', name: 'datagen', subtasks: 1 },
    { uid: 'price', name: 'broadcastProcess', subtasks: 2 }, // each its watermark; the broadcast state, the same everywhere, subtask 0 alone
    { uid: 'out', name: 'file', subtasks: 2 },
  ]);
  const table = await runSluice(['state', 'broadcast-rates', '--data-dir', data], { cwd: ROOT });
  assert.match(table.stdout, /\noperator state \(--operator <uid> --operator-state\):\nOPERATOR +NAME +SUBTASKS +SIZE\norders +datagen +2 .*\nrates +datagen +1 .*\nprice +broadcastProcess +2 /);

  const broadcast = await runSluice(['state', 'broadcast-rates', '--data-dir', data, '--operator', 'price', '--operator-state'], { cwd: ROOT });
  assert.equal(broadcast.code, 0, broadcast.stderr);
  const lines = broadcast.stdout.trim().split('\n').map((line) => JSON.parse(line) as { subtask: number; state?: { rates: Array<[string, number]> }; watermark: number });
  assert.deepEqual(lines.map((l) => l.subtask), [0, 1]);
  assert.deepEqual(Object.fromEntries(lines[0]!.state!.rates), RATES);
  assert.equal(lines[1]!.state, undefined, 'the broadcast state is stored once');
  // The last watermark before the end of input (the end's own, +∞, is not stored): a finite order timestamp less 1.
  assert.ok(lines.every((l) => Number.isInteger(l.watermark) && l.watermark >= 0 && l.watermark <= 398), JSON.stringify(lines.map((l) => l.watermark)));

  const sink = await runSluice(['state', 'broadcast-rates', '--data-dir', data, '--operator', 'out', '--operator-state'], { cwd: ROOT });
  assert.deepEqual(sink.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { subtask: number }).subtask), [0, 1]);

  const source = await runSluice(['state', 'broadcast-rates', '--data-dir', data, '--operator', 'orders', '--operator-state'], { cwd: ROOT });
  const splits = source.stdout.trim().split('\n').map((line) => JSON.parse(line) as { subtask: number; splitWatermarks: Record<string, number> });
  assert.deepEqual(splits.map((l) => l.subtask), [0, 1]);
  assert.ok(splits.every((l) => Object.values(l.splitWatermarks).length === 1 && Object.values(l.splitWatermarks).every((w) => Number.isInteger(w) && w >= 0 && w <= 398)), source.stdout);

  const none = await runSluice(['state', 'broadcast-rates', '--data-dir', data, '--operator', 'no-such-uid', '--operator-state'], { cwd: ROOT });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /operator "no-such-uid" has no operator state in checkpoint \d+ of job "broadcast-rates" \(operators with operator state: orders, rates, price, out\).*\[SLUICE_STATE_NO_OPERATOR_STATE\]/);
  const mixed = await runSluice(['state', 'broadcast-rates', '--data-dir', data, '--operator', 'price', '--operator-state', '--key', 'c1'], { cwd: ROOT });
  assert.equal(mixed.code, 2);
  assert.match(mixed.stderr, /--operator-state prints what each subtask stored, which belongs to no key: leave out --state, --key and --timers/);
  const stray = await runSluice(['state', 'broadcast-rates', '--data-dir', data, '--operator-state'], { cwd: ROOT });
  assert.match(stray.stderr, /--operator-state selects entries of an operator: give --operator <uid> too/);
});
