/**
 * onError('skip') (runtime/api Stream.onError): records a function throws on are dropped, counted and logged, and
 * everything else comes out exactly once, in per-key order, across a restart from a checkpoint, in-process and on
 * worker threads. Bad uses of the policy are plan errors.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { collection, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { buildPhysicalPlan, JobValidationError } from '../../../runtime/graph/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertCountedPerKey } from '../../support/counted-per-key.ts';
import { tempDir } from '../../support/temp-dir.ts';
import poisonRecords, { expectedIndexes, isBad, isPoison, splitOf, type Counted } from './fixtures/poison-records.ts';

const RECORDS = 10_000;
const FIXTURE = new URL('./fixtures/poison-records.ts', import.meta.url);

for (const workers of [0, 2]) {
  test(`skipped records are dropped and everything else is exact, across a restart (workers ${workers})`, async (t) => {
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const output = join(dir, 'out');
    const runner = new JobRunner({
      job: poisonRecords as JobDefinition,
      params: new JobParams([['output', output], ['records', String(RECORDS)], ['rate', '10000'], ['failAt', String(RECORDS / 2)]]),
      store,
      workers,
      jobModule: FIXTURE,
    });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.attempts, 2, 'the seeded failure (default policy) restarted the job once');
    const written = await readPartFiles<Counted>(output);
    assert.ok(!written.some((r) => r.count === -1), 'what a skipped record emitted before throwing was dropped');
    assertCountedPerKey(written.map((r) => ({ key: r.key, index: r.i, count: r.count })), expectedIndexes(RECORDS), (i) => splitOf(i, RECORDS));
  });
}

test('skips are counted per operator and logged with the record, the first ten in full', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', pretty: false, destination: { write: (line: string) => void lines.push(line) } });
  const runner = new JobRunner({
    job: poisonRecords as JobDefinition,
    params: new JobParams([['output', join(dir, 'out')], ['records', String(RECORDS)]]),
    store,
    workers: 0,
    logger,
  });
  assert.equal(await runner.run(), 'finished');
  let poison = 0;
  let bad = 0;
  for (let i = 0; i < RECORDS; i++) {
    if (isPoison(i)) poison++;
    else if (isBad(i)) bad++;
  }
  const skipped = (uid: string): number => runner.metrics().find((s) => s.operators.includes(uid))?.recordsSkipped ?? 0;
  // parse is chained with the source stage, count with the keyed stage: each stage reports its operators' skips.
  assert.equal(skipped('parse'), poison);
  assert.equal(skipped('count'), bad);
  const logged = lines.map((l) => JSON.parse(l) as { msg: string; operator: string; origin: { record: string }; err: string }).filter((l) => /skipped a record/.test(l.msg));
  const parse = logged.filter((l) => l.operator === 'parse');
  // Ten per subtask in full (2 subtasks), then one line per thousand: fewer than 1,000 skips here.
  assert.equal(parse.length, 20);
  assert.match(parse[0]?.err ?? '', /^poison record \d+$/);
  assert.match(parse[0]?.origin.record ?? '', /^\{"i":\d+,"key":"k\d+"\}$/);
});

test('onError: a bad policy and a policy on an operator without a function are job errors', () => {
  const source = collection([1, 2, 3]);
  assert.throws(
    () => buildPhysicalPlan(defineJob({ name: 'bad-policy' }, (env) => void env.source(source).map((n) => n).onError('retry' as never).sink({ name: 'x', createWriter: () => ({}) as never }))),
    /onError\(\) takes 'fail', 'skip' or 'output', got "retry"/,
  );
  const onSink = defineJob({ name: 'skip-on-sink' }, (env) => void env.source(source).map((n) => n).sink({ name: 'x', createWriter: () => ({}) as never }).uid('out').onError('skip'));
  assert.throws(() => buildPhysicalPlan(onSink), (err: unknown) => err instanceof JobValidationError && err.problems.some((p) => /operator "out" \(sink\) cannot skip records: onError\('skip'\) applies to map, filter, flatMap, asyncMap, process, reduce and the connected process functions/.test(p)));
  const onSource = defineJob({ name: 'skip-on-source' }, (env) => void env.source(source).uid('in').onError('skip').map((n) => n).sink({ name: 'x', createWriter: () => ({}) as never }));
  assert.throws(() => buildPhysicalPlan(onSource), (err: unknown) => err instanceof JobValidationError && err.problems.some((p) => /source "?in"? .*deadLetter|operator "in" \(source\) cannot skip records.*deadLetter/.test(p)));
});
