/**
 * Jobs whose operators have several outputs run through the `sluice/testing` harness as they run on their own: the
 * harness rebuilds a job around its sources and sinks, and it rebuilds side outputs, error outputs and late-record
 * streams (a window's, an interval join's) too. Under seeded crashes their outputs stay exact.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { collection, collectSink, readPartFiles } from '../../../connectors/dev/index.ts';
import { defineJob, sideOutput, type JobDefinition } from '../../../runtime/api/index.ts';
import { startJob } from '../../../runtime/testing/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import lateDrops from '../event-time/fixtures/late-drops.ts';
import intervalJoin, { expectedPairs } from '../exec/fixtures/interval-join.ts';

test('a window’s .lateRecords() runs in the harness: the late record goes to its stream', async (t) => {
  const dir = await tempDir(t);
  const run = await startJob(lateDrops as JobDefinition, { params: { output: join(dir, 'fired'), lateOutput: join(dir, 'late') } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.deepEqual(await readPartFiles(join(dir, 'late')), [{ key: 'k', ts: 400 }]);
  assert.equal((await readPartFiles(join(dir, 'fired'))).length, 4);
});

test('declared side outputs and the error output run in the harness', async (t) => {
  const job = defineJob({ name: 'harness-outputs', parallelism: 1 }, (env) => {
    const parsed = env.source(collection(['1', 'x', '22', '333', 'y'])).map((s) => {
      if (!/^\d+$/.test(s)) throw new Error(`not a number: ${s}`);
      return Number(s);
    });
    parsed.errors().map((f) => f.record).sink(collectSink()).uid('unparsable');
    const split = parsed.keyBy((n) => n % 2).process({
      outputs: { big: sideOutput<number>() },
      processElement(n, ctx): number | void {
        if (n > 100) ctx.output('big', n);
        else return n;
      },
    });
    split.sink(collectSink()).uid('small');
    split.sideOutput('big').sink(collectSink()).uid('big');
  });
  const run = await startJob(job);
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.deepEqual(run.outputs<string>('unparsable').sort(), ['x', 'y']);
  assert.deepEqual(run.outputs<number>('small').sort((a, b) => a - b), [1, 22]);
  assert.deepEqual(run.outputs<number>('big'), [333]);
});

test('an interval join under seeded crashes in the harness writes every matching pair once', async (t) => {
  const dir = await tempDir(t);
  const records = 3_000;
  const run = await startJob(intervalJoin as JobDefinition, { params: { output: join(dir, 'out'), records: String(records), rate: '20000' }, faults: { crashes: 3, seed: 7 } });
  t.after(() => run.close());
  assert.equal(await run.finished, 'finished');
  assert.ok(run.faults.fired.length > 0, 'some seeded crashes fired');
  const pairs = (await readPartFiles<{ key: string; i: number; j: number }>(join(dir, 'out'))).map((p) => JSON.stringify({ key: p.key, i: p.i, j: p.j })).sort();
  assert.deepEqual(pairs, expectedPairs(records));
});
