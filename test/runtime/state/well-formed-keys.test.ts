/**
 * Keys with an unpaired surrogate (half an emoji, as `slice` leaves) are refused: UTF-8 has no form for them, so a
 * checkpoint, the LevelDB backend and a record batch between threads would each hand back a different string, and
 * the key's state would be lost at the next restore. Well-formed keys, emoji included, keep their state.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobParams, type JobDefinition, type StateBackendOptions } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { HeapKeyedStateBackend, keyGroupOf, keyGroupRangeOf, loneSurrogateAt, murmur3_32, type KeyedStateBackend } from '../../../runtime/state/index.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { withCode } from '../../support/error-chain.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { cutEmojiKeysJob } from './fixtures/cut-emoji-keys.ts';

const M = 128;
const range = keyGroupRangeOf(0, 1, M);
const CUT = ['ab\uD83D', 'ab\uD83C', '\uDC00x', 'x😀\uD83D'];

function invalidKey(at: number, what = /^the key /) {
  return (err: unknown): boolean => {
    assert.ok(isSluiceError(err, 'SLUICE_STATE_INVALID_KEY'), String(err));
    assert.equal(err.retriable, false, 'a restart would replay the same record');
    assert.match(err.message, what);
    assert.match(err.message, new RegExp(`unpaired surrogate at index ${at} `));
    assert.match(err.message, /Array\.from\(s\)\.slice\(0, n\)\.join\(''\)/);
    return true;
  };
}

test('loneSurrogateAt finds the first half of a pair left alone, and nothing in well-formed strings', () => {
  assert.deepEqual(CUT.map(loneSurrogateAt), [2, 2, 0, 3]);
  for (const s of ['', 'plain', 'usér', '日本語', 'ab😀', '😀🀄', '\uD83D\uDE00']) assert.equal(loneSurrogateAt(s), -1, s);
});

test('keyGroupOf hashes well-formed keys as their UTF-8 (emoji too) and refuses an unpaired surrogate', () => {
  const encoder = new TextEncoder();
  for (const key of ['usér', '日本語', 'ab😀', 'ab🀄', 42]) {
    assert.equal(keyGroupOf(key, M), murmur3_32(encoder.encode(String(key))) % M, String(key));
  }
  CUT.forEach((key) => assert.throws(() => keyGroupOf(key, M), invalidKey(loneSurrogateAt(key))));
});

const backends: Array<[string, () => KeyedStateBackend]> = [
  ['heap', () => new HeapKeyedStateBackend({ maxParallelism: M, range })],
  ['heap, incremental', () => new HeapKeyedStateBackend({ maxParallelism: M, range, incremental: true })],
  ['LevelDB', () => new LevelDbKeyedStateBackend({ maxParallelism: M, range })],
];

for (const [name, create] of backends) {
  test(`the ${name} backend refuses an unpaired surrogate as a key or a map key, and keeps emoji keys through a restore`, async () => {
    const backend = create();
    await backend.restore([]);
    const restored = create();
    try {
      const count = backend.getValueState<number>('count');
      const tags = backend.getMapState<string, number>('tags');
      for (const key of ['ab😀', 'ab🀄', 'plain']) {
        backend.setCurrentKey(key);
        count.update(key.length);
        tags.put(`${key}!`, 1);
      }
      backend.setCurrentKey('ab\uD83D');
      assert.throws(() => count.update(1), invalidKey(2));
      assert.throws(() => backend.registerTimer(5), invalidKey(2), 'timers are kept per key too');
      backend.setCurrentKey('plain');
      assert.throws(() => tags.put('x\uD83C', 1), invalidKey(1, /^the map key of state "tags" /));
      assert.equal(backend.metrics().entries, 6, 'nothing was written for the refused key: 3 counts and 3 maps');

      const snapshot = await backend.snapshot(1);
      await restored.restore(snapshot.incremental === undefined ? snapshot.keyGroups : [...snapshot.keyGroups, ...snapshot.incremental.deltas], 1);
      const restoredCount = restored.getValueState<number>('count');
      const restoredTags = restored.getMapState<string, number>('tags');
      for (const key of ['ab😀', 'ab🀄', 'plain']) {
        restored.setCurrentKey(key);
        assert.equal(restoredCount.value(), key.length, key);
        assert.deepEqual([...restoredTags.keys()], [`${key}!`], key);
      }
    } finally {
      await backend.close();
      await restored.close();
    }
  });
}

async function run(t: import('node:test').TestContext, options: { workers: number; split?: boolean; state?: StateBackendOptions }) {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'checkpoints'));
  t.after(() => store.close());
  const runner = new JobRunner({
    job: cutEmojiKeysJob(options.state) as JobDefinition,
    params: new JobParams([['split', options.split === true ? '1' : '0'], ['output', join(dir, 'out')]]),
    store,
    workers: options.workers,
    jobModule: new URL('./fixtures/cut-emoji-keys.ts', import.meta.url),
  });
  const err = await runner.run().then(
    () => assert.fail('the job finished'),
    (e: unknown) => e,
  );
  return { err, attempts: runner.attempts };
}

for (const { name, workers, split, state } of [
  { name: 'heap, in-process', workers: 0 },
  { name: 'LevelDB, in-process', workers: 0, state: { backend: 'leveldb' } as StateBackendOptions },
  { name: 'keyBy between worker threads, hashed by the sender', workers: 2 },
  { name: 'keyBy into one subtask on another thread, unhashed', workers: 2, split: true },
]) {
  test(`a job whose key selector cuts an emoji in two fails at once with SLUICE_STATE_INVALID_KEY, naming the key (${name})`, async (t) => {
    const { err, attempts } = await run(t, { workers, ...(split === true ? { split } : {}), ...(state === undefined ? {} : { state }) });
    const cause = withCode(err, 'SLUICE_STATE_INVALID_KEY');
    assert.ok(cause !== undefined, String(err));
    assert.match(cause.message, /^the key "ab\\ud83[dc]" has an unpaired surrogate at index 2 /);
    assert.equal(attempts, 1, 'not restarted: the replay would carry the same key');
  });
}
