/**
 * A cluster member's owner lease reaches sink writers wherever they run: on this thread, and on worker threads through
 * shared memory, so a lease ended on the main thread is seen there without a message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { JobParams } from '../../../runtime/api/index.ts';
import { JobAttempt, type RunningAttempt } from '../../../runtime/exec/index.ts';
import { monotonicMicros, OwnerLease } from '../../../runtime/exec/owner-lease.ts';
import { buildPhysicalPlan } from '../../../runtime/graph/index.ts';
import { createLogger } from '../../../runtime/logging/index.ts';
import { systemClock } from '../../../runtime/time/index.ts';
import { WorkerAttempt } from '../../../runtime/workers/index.ts';
import { waitFor } from '../../support/wait-for.ts';
import leaseJob from './fixtures/owner-lease-sink.ts';

const MODULE = pathToFileURL(new URL('./fixtures/owner-lease-sink.ts', import.meta.url).pathname).href;

for (const workers of [0, 1]) {
  test(`sink writers ${workers === 0 ? 'on this thread' : 'on a worker thread'} see the owner lease held, then ended`, async () => {
    const params = new JobParams([['records', '100000']]);
    const plan = buildPhysicalPlan(leaseJob, { params });
    const seen: Array<boolean | null> = [];
    const logger = createLogger({ level: 'info', pretty: false, destination: { write: (line) => {
      const entry = JSON.parse(line) as { msg?: string; stillOwner?: boolean | null };
      if (entry.msg === 'owner lease seen') seen.push(entry.stillOwner ?? null);
    } } });
    const lease = OwnerLease.create();
    lease.holdOpenEnded();
    const attempt: RunningAttempt = workers === 0
      ? new JobAttempt({ plan, attempt: 0, logger, clock: systemClock, ownerLease: lease })
      : new WorkerAttempt({ plan, attempt: 0, logger, workers, jobModule: MODULE, params, ownerLease: lease });
    const running = attempt.run();
    try {
      await waitFor(() => seen.includes(true), { message: 'the sink saw the lease held' });
      lease.end();
      await waitFor(() => seen.includes(false), { message: 'the sink saw the lease ended' });
      assert.equal(seen.lastIndexOf(true) < seen.indexOf(false), true, 'once ended, never held again');
    } finally {
      attempt.fail(new Error('test over'));
      await running.catch(() => undefined);
    }
  });
}

test('a lease held until a deadline stops holding when the deadline passes, with no write', async () => {
  const lease = OwnerLease.create();
  assert.equal(lease.holds(), false, 'a new lease is not held');
  lease.holdUntil(monotonicMicros() + 50_000n);
  assert.equal(lease.holds(), true);
  const view = new OwnerLease(lease.buffer);
  await waitFor(() => !view.holds(), { message: 'the deadline passed' });
  lease.holdOpenEnded();
  assert.equal(view.holds(), true, 'a view reads what the lease holds');
});
