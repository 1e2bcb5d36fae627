/**
 * A listed topic that does not exist (and that the source never auto-creates) fails the job at once, even under the
 * default restart strategy, which never gives up: it is most likely a typo, and restarting cannot fix it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink } from '../../../connectors/dev/index.ts';
import { kafkaSource } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { kafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('a misspelled topic with auto-creation off fails a checkpointing job at once: SLUICE_KAFKA_TOPIC_NOT_FOUND, no restarts', async (t) => {
  const cluster = await kafkaCluster(t, { autoCreateTopics: false });
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const missing = cluster.uniqueName('orderz');
  const job = defineJob({ name: 'missing-topic-fatal', parallelism: 1, checkpoints: { intervalMs: 100 } }, (env) => {
    env.source(kafkaSource({ brokers: cluster.brokers, topics: [missing], format: 'string' })).sink(collectSink());
  });
  const runner = new JobRunner({ job, store });
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-started' && e.attempt > 0) runner.cancel('restarted a fatal error');
  });
  await assert.rejects(runner.run(), (err: unknown) => {
    assert.ok(isSluiceError(err, 'SLUICE_KAFKA_TOPIC_NOT_FOUND'), String(err));
    assert.equal(err.retriable, false);
    return true;
  });
  assert.equal(runner.attempts, 1, 'no restart');
  assert.equal(runner.state, 'failed');
});
