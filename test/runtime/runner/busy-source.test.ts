import assert from 'node:assert/strict';
import { test } from 'node:test';
import { datagen } from '../../../connectors/dev/index.ts';
import { defineJob } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('a source that always has data does not starve timers: checkpoints still trigger and complete', { timeout: 60_000 }, async (t) => {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  let seen = 0;
  const job = defineJob({ name: 'busy-source', parallelism: 2, checkpoints: { intervalMs: 50 } }, (env) => {
    env
      .source(datagen({ splits: 2, record: (i) => ({ key: `k${i % 100}`, n: 1 }) }))
      .keyBy((r) => r.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n }))
      .sink({ name: 'count', createWriter: () => ({ start: async () => {}, write: (rs) => void (seen += rs.length), preCommit: async () => undefined, commit: async () => {}, finish: async () => {}, close: async () => {} }) });
  });
  const runner = new JobRunner({ job, store });
  const checkpoints: number[] = [];
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed') checkpoints.push(e.manifest.id);
    if (checkpoints.length === 3) runner.cancel();
  });
  // Nothing but the job runs here: a timer firing at all proves the record path yields to the event loop.
  const ticks = await new Promise<number>((resolve) => {
    let n = 0;
    const interval = setInterval(() => {
      if (++n === 3) {
        clearInterval(interval);
        resolve(n);
      }
    }, 20);
    void runner.run().then(() => undefined);
  });
  assert.equal(ticks, 3);
  while (runner.state === 'running') await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(runner.state, 'cancelled');
  assert.deepEqual(checkpoints, [1, 2, 3]);
  assert.ok(seen > 0);
});
