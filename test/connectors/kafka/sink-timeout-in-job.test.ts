import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collection } from '../../../connectors/dev/index.ts';
import { kafkaSink } from '../../../connectors/kafka/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('an exactly-once Kafka sink whose transaction timeout cannot cover checkpoint timeout + restart delay fails the job before writing', async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  const job = defineJob(
    { name: 'short-txn-timeout', checkpoints: { intervalMs: 1_000, timeoutMs: 60_000 }, restart: { type: 'fixed-delay', attempts: 1, delayMs: 30_000 } },
    (env) => {
      env.source(collection([1, 2, 3])).sink(
        // No broker needed: the rule is checked before connecting. 127.0.0.1:9 refuses connections anyway.
        kafkaSink<number>({ brokers: ['127.0.0.1:9'], topic: 'never', guarantee: 'exactly-once', transactionalIdPrefix: 'short', transactionTimeoutMs: 60_000 }),
      );
    },
  );
  // The job's strategy would wait 30 s; the runner's override (none) is what counts, so the rule sees 0 ms of delay.
  const runner = new JobRunner({ job, store, restartStrategy: { type: 'none' } });
  await assert.rejects(runner.run(), (err: Error & { code?: string; cause?: { code?: string } }) => {
    assert.equal(err.cause?.code, 'SLUICE_INVALID_OPTION', String(err));
    assert.match(err.message, /transactionTimeoutMs 60000 cannot cover checkpoint interval 1000 ms \+ checkpoint timeout 60000 ms \+ restart delay up to 0 ms/);
    return true;
  });
});
