import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { JobParams } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { firedFaults } from '../kafka/fixtures/seeded-faults.ts';
import { compare, countToEs, COUNT_TO_ES_MODULE, expectedCounts, lastBuiltSink, readCounts, type Shape } from './fixtures/count-to-es.ts';

const RECORDS = 24_000;
const KEYS = 400;

for (const workers of [0, 2]) {
  for (const shape of ['updates', 'totals'] as const satisfies readonly Shape[]) {
    test(`${shape}: documents equal the failure-free run after ≥ 5 injected failures (operator and after pre-commit) (workers ${workers})`, async (t) => {
      const es = await elasticsearchNode(t);
      const index = es.uniqueIndex(`eo-${shape}-w${workers}`);
      const dir = await tempDir(t);
      const store = await CheckpointStore.open(join(dir, 'data'));
      t.after(() => store.close());
      const faults = join(dir, 'faults');
      await mkdir(faults);
      const random = seededRandom(shape === 'updates' ? 6061 : 6062);
      // The faults are params of the job module, fired once each through marker files, so worker threads fail at the
      // same points as the in-process run.
      const mapFailures = [0.2, 0.45, 0.7].map((f) => Math.floor(f * RECORDS + random() * 1_000));
      const params = new JobParams([
        ['node', es.node], ['index', index], ['shape', shape], ['records', String(RECORDS)], ['keys', String(KEYS)], ['rate', '20000'],
        ['faults', faults], ['failRecords', mapFailures.join(',')], ['preCommitAfter', [0.1, 0.35, 0.6].map((f) => RECORDS * f).join(',')],
      ]);
      const runner = new JobRunner({
        job: countToEs,
        params,
        store,
        workers,
        jobModule: COUNT_TO_ES_MODULE,
        restartStrategy: { type: 'fixed-delay', attempts: 30, delayMs: 20 },
      });
      const failures = failedAttempts(runner);
      assert.equal(await runner.run(), 'finished');
      assert.equal(runner.workers, workers, 'ran on the workers asked for');
      const injected = firedFaults(faults);
      assert.deepEqual(injected.map((i) => i.replace(/@\d+$/, '')).sort(), ['map', 'map', 'map', 'pre-commit', 'pre-commit', 'pre-commit'], `injected: ${injected.join(', ')}`);
      assertOnlyInjectedFailures(runner, failures, injected);

      const documents = await readCounts(es.client(), index);
      assert.deepEqual(compare(shape, documents, expectedCounts(RECORDS, KEYS)), []);
      assert.equal(documents.length, shape === 'updates' ? RECORDS : KEYS, 'no extra documents');
      // The sink's own counters live where its writers ran: only an in-process run can read them here.
      const metrics = workers === 0 ? lastBuiltSink?.metrics() : undefined;
      if (metrics !== undefined) {
        assert.equal(metrics.deadLetters, 0);
        if (shape === 'updates') assert.ok(metrics.alreadyExisted > 0, 'replays re-created documents, answered 409 and counted as written');
      }
    });
  }
}
