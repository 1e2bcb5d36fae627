import assert from 'node:assert/strict';
import { test } from 'node:test';
import { elasticsearchSink } from '../../../connectors/elasticsearch/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { assertOnlyInjectedFailures, failedAttempts } from '../../support/injected-failures.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { compare, countJob, expectedCounts, readCounts, sinkOptions, type Shape } from './fixtures/count-to-es.ts';
import { withSinkFaults } from '../../support/faulty-sink.ts';

const RECORDS = 24_000;
const KEYS = 400;

for (const shape of ['updates', 'totals'] as const satisfies readonly Shape[]) {
  test(`${shape}: documents equal the failure-free run after ≥ 5 injected failures (operator and after pre-commit)`, async (t) => {
    const es = await elasticsearchNode(t);
    const index = es.uniqueIndex(`eo-${shape}`);
    const store = await CheckpointStore.open(await tempDir(t));
    t.after(() => store.close());
    const random = seededRandom(shape === 'updates' ? 6061 : 6062);
    const mapFailures = new Set([0.2, 0.45, 0.7].map((f) => Math.floor(f * RECORDS + random() * 1_000)));
    let preCommitFailures = 3;
    let processed = 0;
    const injected: string[] = [];
    const sink = elasticsearchSink(sinkOptions(shape, es.node, index));
    const job = countJob(
      {
        name: `eo-${shape}`,
        records: RECORDS,
        keys: KEYS,
        ratePerSecond: 20_000,
        onRecord: (i) => {
          processed++;
          if (mapFailures.delete(i)) {
            injected.push(`map@${i}`);
            throw new Error(`injected failure at record ${i}`);
          }
        },
        wrapSink: (inner) =>
          withSinkFaults(inner, { preCommit: () => {
            if (preCommitFailures > 0 && processed > RECORDS * [0.6, 0.35, 0.1][preCommitFailures - 1]!) {
              preCommitFailures--;
              injected.push('after-pre-commit');
              return true;
            }
            return false;
          } }),
      },
      sink,
    );
    const runner = new JobRunner({ job, store });
    const failures = failedAttempts(runner);
    assert.equal(await runner.run(), 'finished');
    assert.ok(injected.length >= 5, `at least 5 injected failures: ${injected.join(', ')}`);
    assertOnlyInjectedFailures(runner, failures, injected);

    const documents = await readCounts(es.client(), index);
    assert.deepEqual(compare(shape, documents, expectedCounts(RECORDS, KEYS)), []);
    assert.equal(documents.length, shape === 'updates' ? RECORDS : KEYS, 'no extra documents');
    const metrics = sink.metrics();
    assert.equal(metrics.deadLetters, 0);
    if (shape === 'updates') assert.ok(metrics.alreadyExisted > 0, 'replays re-created documents, answered 409 and counted as written');
  });
}
