import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { elasticsearchSink } from '../../../connectors/elasticsearch/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { elasticsearchNode, esDevstackOnly, type ElasticsearchTestNode } from '../../support/elasticsearch-node.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import type { TestContext } from 'node:test';
import { compare, countJob, expectedCounts, readCounts, sinkOptions } from './fixtures/count-to-es.ts';

const KEYS = 300;

/**
 * Runs the `updates` count job (one document per count update, so any loss or duplicate shows) while `inject`
 * disturbs the devstack, and checks the index equals a failure-free run.
 */
async function runThrough(t: TestContext, records: number, rate: number, inject: (es: ElasticsearchTestNode) => Promise<void>) {
  const es = await elasticsearchNode(t);
  const index = es.uniqueIndex('faults');
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const sink = elasticsearchSink(sinkOptions('updates', es.node, index));
  const job = countJob({ name: 'faults', records, keys: KEYS, ratePerSecond: rate, options: { checkpoints: { intervalMs: 100 } } }, sink);
  const runner = new JobRunner({ job, store });
  let checkpoints = 0;
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed') checkpoints++;
    if (e.type === 'attempt-failed') t.diagnostic(`attempt ${e.attempt} failed: ${(e.error as Error).message}`);
  });
  const done = runner.run();
  await waitFor(() => checkpoints > 0, { timeoutMs: 20_000, message: 'a first checkpoint' });
  await inject(es);
  assert.equal(await done, 'finished');
  const documents = await readCounts(es.client(), index);
  assert.deepEqual(compare('updates', documents, expectedCounts(records, KEYS)), []);
  assert.equal(documents.length, records, 'no extra documents');
  return { runner, metrics: sink.metrics(), injected: es.devstack!.faults.injected };
}

describe('Elasticsearch sink under faults', { concurrency: 3 }, () => {
  test('429 storm: 30 % of bulk items rejected for 5 s — retried, nothing lost, no failover', { skip: esDevstackOnly('injects per-item 429s') }, async (t) => {
    const { runner, metrics, injected } = await runThrough(t, 20_000, 3_000, async (es) => {
      es.devstack!.faults.rejectBulkItems({ fraction: 0.3, seed: 429 });
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      es.devstack!.faults.clear();
    });
    assert.ok(injected.bulkItems429 > 100, `429s injected: ${injected.bulkItems429}`);
    assert.ok(metrics.retriedItems >= injected.bulkItems429, `retried ${metrics.retriedItems} items`);
    assert.equal(metrics.tooManyRequests, injected.bulkItems429, 'every 429 counted');
    assert.equal(metrics.bulkDurations.count, metrics.bulkRequests, 'one latency per bulk request');
    assert.equal(runner.attempts, 1, 'the sink rode the storm out by itself');
  });

  test('503 bursts: whole bulk requests refused — resent, nothing lost, no failover', { skip: esDevstackOnly('injects 503s') }, async (t) => {
    const { runner, metrics, injected } = await runThrough(t, 15_000, 3_000, async (es) => {
      for (let burst = 0; burst < 6; burst++) {
        es.devstack!.faults.unavailable({ requests: 3 });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    });
    assert.ok(injected.requests503 >= 6, `503s injected: ${injected.requests503}`);
    assert.ok(metrics.retriedRequests >= 6, `retried ${metrics.retriedRequests} requests`);
    assert.equal(runner.attempts, 1, 'the sink rode the bursts out by itself');
  });

  test('Elasticsearch unreachable for 10 s, then back: the job recovers by itself, nothing lost', { skip: esDevstackOnly('refuses connections') }, async (t) => {
    const { runner, metrics } = await runThrough(t, 20_000, 2_500, async (es) => {
      await es.devstack!.faults.refuseConnections(10_000);
    });
    assert.ok(metrics.retriedRequests > 0, 'bulk requests were retried during the outage');
    // Usually the sink's own retries (8, up to 10 s apart) outlast the outage; if they run out first the job fails
    // over and the restarted attempt waits for the node: both are "recovers by itself".
    t.diagnostic(`attempts: ${runner.attempts}, retried requests: ${metrics.retriedRequests}`);
  });
});
