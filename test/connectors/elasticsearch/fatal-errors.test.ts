/**
 * Records the Elasticsearch sink can never write fail the job at once, even under the default restart strategy
 * (which never gives up): a replay would fail on the same record forever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection } from '../../../connectors/dev/index.ts';
import { elasticsearchSink } from '../../../connectors/elasticsearch/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode } from '../../support/elasticsearch-node.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('an id function returning undefined fails a checkpointing job at once with SLUICE_ES_BAD_RECORD, no restarts', async (t) => {
  const es = await elasticsearchNode(t);
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const records = [{ user: 'a' }, { name: 'no user field' }] as Array<{ user?: string }>;
  const job = defineJob({ name: 'es-fatal', parallelism: 1, checkpoints: { intervalMs: 50 } }, (env) => {
    env.source(collection(records)).sink(elasticsearchSink({ node: es.node, index: es.uniqueIndex('fatal'), id: (r) => r.user as string }));
  });
  const runner = new JobRunner({ job, store });
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-started' && e.attempt > 0) runner.cancel('restarted a fatal error');
  });
  const outcome = await runner.run().catch((err: unknown) => err);
  assert.ok(isSluiceError(outcome, 'SLUICE_OPERATOR_FAILED'), String(outcome));
  assert.ok(isSluiceError(outcome.cause, 'SLUICE_ES_BAD_RECORD'), String(outcome.cause));
  assert.match(outcome.message, /the id function returned undefined/);
  assert.equal(runner.attempts, 1, 'no restart');
  assert.equal(runner.state, 'failed');
});
