/**
 * Side outputs and error outputs: every record exactly once in exactly one output (main, side, error) through a
 * seeded restart, in-process and on worker threads; what the plan makes of them; and the mistakes it rejects — an
 * output nobody reads, an error output with the wrong policy, an undeclared name — with messages that say what to do.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectSink, CollectTarget, collection, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, ERROR_OUTPUT, JobParams, sideOutput, type JobDefinition, type Sink } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { buildPhysicalPlan, JobValidationError } from '../../../runtime/graph/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { assertCountedPerKey, indexesByKey } from '../../support/counted-per-key.ts';
import { tempDir } from '../../support/temp-dir.ts';
import sideOutputs, { isPoison, keyOf, type Counted, type ErrorRecord } from './fixtures/side-outputs.ts';

const RECORDS = 6_000;
const FIXTURE = new URL('./fixtures/side-outputs.ts', import.meta.url);
const noSink: Sink<unknown> = { name: 'nowhere', createWriter: () => ({}) as never };

test('a side output and an error output are stages of their own, reading the emitting stage through forward channels', () => {
  const plan = buildPhysicalPlan(sideOutputs as JobDefinition, { params: new JobParams([['output', '/tmp/unused']]) });
  assert.deepEqual(plan.stages.map((s) => s.operators.map((o) => o.uid)), [['events', 'parse'], ['parse-errors', 'errors-out'], ['faults'], ['count'], ['main-out'], ['odd', 'odd-out']]);
  assert.deepEqual(plan.stages[1]?.inputs, [{ stage: 0, partitioning: 'forward', output: ERROR_OUTPUT }]);
  assert.deepEqual(plan.stages[2]?.inputs, [{ stage: 0, partitioning: 'forward' }]);
  assert.deepEqual(plan.stages[5]?.inputs, [{ stage: 3, partitioning: 'forward', output: 'odd' }]);
  assert.deepEqual(plan.stages[3]?.outputs, [4, 5]);
});

for (const workers of [0, 2]) {
  test(`every record exactly once in exactly one of main, side and error outputs through a restart (workers ${workers})`, async (t) => {
    const dir = await tempDir(t);
    const store = await CheckpointStore.open(join(dir, 'data'));
    t.after(() => store.close());
    const output = join(dir, 'out');
    const runner = new JobRunner({
      job: sideOutputs as JobDefinition,
      params: new JobParams([['output', output], ['records', String(RECORDS)], ['failAt', String(RECORDS / 3)]]),
      store,
      workers,
      jobModule: FIXTURE,
    });
    assert.equal(await runner.run(), 'finished');
    assert.equal(runner.attempts, 2, 'the seeded failure restarted the job once');

    const main = await readPartFiles<Counted>(join(output, 'main'));
    const odd = await readPartFiles<Counted>(join(output, 'odd'));
    const errors = await readPartFiles<ErrorRecord>(join(output, 'errors'));
    assert.ok(main.every((c) => c.i % 2 === 0) && odd.every((c) => c.i % 2 === 1), 'even indexes on the main output, odd ones on the side output');
    assert.deepEqual(
      errors.map((e) => e.record.i).sort((a, b) => a - b),
      Array.from({ length: RECORDS }, (_, i) => i).filter(isPoison),
      'each poison record once on the error output',
    );
    for (const e of errors) {
      assert.deepEqual(e, { record: { i: e.record.i, key: keyOf(e.record.i) }, operator: 'parse', error: { name: 'Error', message: `poison record ${e.record.i}` } });
    }
    // The process counted main and side records together: per key, counts 1..n over both outputs, each record once,
    // and each split's records in order (a split holds a contiguous half of the indexes).
    assertCountedPerKey(
      [...main, ...odd].map((c) => ({ key: c.key, index: c.i, count: c.count })),
      indexesByKey(RECORDS, keyOf, (i) => !isPoison(i)),
      (i) => (i < RECORDS / 2 ? 0 : 1),
    );
    assert.equal(main.length + odd.length + errors.length, RECORDS, 'no record in two outputs, none lost');
  });
}

test('a side output or an error output nobody reads, or an error output under another policy, is a plan error', () => {
  const problems = (build: Parameters<typeof defineJob>[1]): readonly string[] => {
    try {
      buildPhysicalPlan(defineJob({ name: 'bad-outputs' }, build));
    } catch (err) {
      if (err instanceof JobValidationError) return err.problems;
      throw err;
    }
    assert.fail('the plan was accepted');
  };
  assert.ok(
    problems((env) => {
      env.source(collection([1])).process({ outputs: { late: sideOutput<number>() }, processElement: (n) => n }).uid('p').sink(noSink);
    }).some((p) => /side output "late" of operator "p" is never read, so its records would be lost: read it with \.sideOutput\('late'\)/.test(p)),
  );
  assert.ok(
    problems((env) => {
      env.source(collection([1])).map((n) => n).uid('m').onError('output').sink(noSink);
    }).some((p) => /operator "m" sends failed records to its error output \(onError 'output'\), but nothing reads it: add \.errors\(\)\.sink\(\.\.\.\)/.test(p)),
  );
  assert.ok(
    problems((env) => {
      const parsed = env.source(collection([1])).map((n) => n).uid('m');
      parsed.errors().sink(noSink);
      parsed.onError('skip').sink(noSink);
    }).some((p) => /the error output of "m" is read, but its onError policy is 'skip'/.test(p)),
  );
  assert.throws(
    () =>
      buildPhysicalPlan(
        defineJob({ name: 'undeclared' }, (env) => {
          const p = env.source(collection([1])).process({ processElement: (n) => n });
          // @ts-expect-error: the function declares no output "late"
          p.sideOutput('late').sink(noSink);
        }),
      ),
    /sideOutput\("late"\): the process function does not declare that output: add it to its outputs/,
  );
});

test('emitting to an output that is not declared, or to a main output nobody reads, fails the job at once with what to do', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const run = async (job: JobDefinition): Promise<unknown> => {
    const runner = new JobRunner({ job, params: new JobParams(), store });
    return runner.run().then(
      () => assert.fail('the job finished'),
      (err: unknown) => err,
    );
  };
  const target = new CollectTarget<unknown>();
  const undeclared = await run(
    defineJob({ name: 'undeclared-output', restart: { type: 'fixed-delay', attempts: 5, delayMs: 1 } }, (env) => {
      const p = env.source(collection([1, 2])).process({
        outputs: { kept: sideOutput<number>() },
        processElement(n, ctx) {
          (ctx.output as (name: string, value: unknown) => void)('other', n);
        },
      }).uid('p');
      p.sink(collectSink(target));
      p.sideOutput('kept').sink(collectSink(new CollectTarget<number>()));
    }),
  );
  assert.match(String((undeclared as Error).message), /operator "p" emitted to side output "other", which nothing reads: declare it in the function's outputs/);
  assert.equal((undeclared as { code?: string }).code, 'SLUICE_OPERATOR_FAILED');

  const mainless = await run(
    defineJob({ name: 'mainless', restart: { type: 'fixed-delay', attempts: 5, delayMs: 1 } }, (env) => {
      const p = env.source(collection([1, 2])).process({ outputs: { side: sideOutput<number>() }, processElement: (n) => n }).uid('p');
      p.sideOutput('side').sink(collectSink(new CollectTarget<number>()));
    }),
  );
  assert.match(String((mainless as Error).message), /operator "p" emitted to its main output, which nothing reads \(only its side outputs are read\)/);
});
