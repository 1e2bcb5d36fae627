import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobParams, type JobDefinition, type StateBackendOptions } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { RecordEncoder } from '../../../runtime/exchange/record-codec.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { packValue } from '../../../runtime/serde/index.ts';
import { whereUnserializable } from '../../../runtime/serde/unserializable.ts';
import { withCode } from '../../support/error-chain.ts';
import { tempDir } from '../../support/temp-dir.ts';
import symbolValues, { symbolValuesJob } from './fixtures/symbol-values.ts';

test('whereUnserializable points at the first symbol: a field, an element, a Map value or key, a Set element', () => {
  assert.equal(whereUnserializable({ user: 'u1', tag: Symbol('vip') }, 'the record'), 'the record.tag');
  assert.equal(whereUnserializable({ tags: ['a', Symbol('b')] }, 'the value'), 'the value.tags[1]');
  assert.equal(whereUnserializable({ 'a b': { c: Symbol('d') } }, 'v'), 'v["a b"].c');
  assert.equal(whereUnserializable(new Map([['k', Symbol('s')]]), 'v'), 'v.get("k")');
  assert.equal(whereUnserializable(new Map([[Symbol('s'), 1]]), 'v'), 'v (a Map key)');
  assert.equal(whereUnserializable(new Set([1, Symbol('s')]), 'v'), 'v (Set element 1)');
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = cyclic;
  assert.equal(whereUnserializable(cyclic, 'v'), undefined);
  assert.equal(whereUnserializable({ date: new Date(0), n: 1n, fn: () => 1 }, 'v'), undefined, 'what msgpack writes (a function as undefined) is not pointed at');
  const throwing = Object.defineProperty({}, 'bad', { enumerable: true, get: () => { throw new Error('getter'); } });
  assert.equal(whereUnserializable(throwing, 'v'), undefined, 'a getter that throws leaves the place unknown, and the error as it was');
});

test('a record that cannot cross threads is SLUICE_RECORD_NOT_SERIALIZABLE, naming where the symbol is, not retriable', () => {
  const encoder = new RecordEncoder();
  assert.throws(() => encoder.encode([{ user: 'u1' }, { user: 'u2', tags: [Symbol('vip')] }]), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_RECORD_NOT_SERIALIZABLE'), String(err));
    assert.equal(err.retriable, false);
    assert.match(err.message, /at the record\.tags\[0\]/);
    assert.match(err.message, /--workers 0/);
    return true;
  });
});

test('operator state that cannot be checkpointed (broadcast state, records held) is SLUICE_STATE_NOT_SERIALIZABLE, not retriable', () => {
  assert.throws(() => packValue({ rules: new Map([['r1', { flag: Symbol('on') }]]) }), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_STATE_NOT_SERIALIZABLE'), String(err));
    assert.equal(err.retriable, false);
    assert.match(err.message, /at the state\.rules\.get\("r1"\)\.flag/);
    return true;
  });
});

async function failure(t: import('node:test').TestContext, options: { where: 'record' | 'state'; workers: number; state?: StateBackendOptions }) {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'checkpoints'));
  t.after(() => store.close());
  const runner = new JobRunner({
    job: (options.state === undefined ? symbolValues : symbolValuesJob(options.state)) as JobDefinition,
    params: new JobParams([['where', options.where], ['output', join(dir, 'out')]]),
    store,
    workers: options.workers,
    jobModule: new URL('./fixtures/symbol-values.ts', import.meta.url),
  });
  const err = await runner.run().then(
    () => assert.fail('the job finished'),
    (e: unknown) => e,
  );
  return { err, attempts: runner.attempts };
}

test('a job whose records cannot cross threads fails at once with SLUICE_RECORD_NOT_SERIALIZABLE (workers 2)', async (t) => {
  const { err, attempts } = await failure(t, { where: 'record', workers: 2 });
  assert.ok(isSluiceError(err, 'SLUICE_RECORD_NOT_SERIALIZABLE'), String(err));
  assert.match((err as Error).message, /Unknown type: symbol at the record\.tag/);
  assert.equal(attempts, 1, 'not restarted: the replay would carry the same record');
});

for (const { name, workers, state } of [
  { name: 'heap, in-process', workers: 0, state: undefined },
  { name: 'heap, on worker threads', workers: 2, state: undefined },
  { name: 'LevelDB, in-process', workers: 0, state: { backend: 'leveldb', cacheBytes: 4096 } as StateBackendOptions },
]) {
  test(`a job whose keyed state cannot be checkpointed fails at once with SLUICE_STATE_NOT_SERIALIZABLE, naming state and key (${name})`, async (t) => {
    // The heap backend meets the value at a checkpoint; the LevelDB backend already when it writes the entry back to
    // its working database, inside the operator (whose failure wraps it, naming the operator).
    const { err, attempts } = await failure(t, { where: 'state', workers, ...(state === undefined ? {} : { state }) });
    const cause = withCode(err, 'SLUICE_STATE_NOT_SERIALIZABLE');
    assert.ok(cause !== undefined, String(err));
    assert.match(cause.message, /^state "reduce" holds, for key "k\d+", a value that cannot be written to a checkpoint \(Unknown type: symbol at the value\.tag\)/);
    assert.equal(attempts, 1, 'not restarted: the replay would put the same value in state');
  });
}
