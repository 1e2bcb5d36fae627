/**
 * The service's job registry answers users' actions (submit, cancel, pause) and records where jobs resume: its writes
 * are synced to the disk, so a power loss or an OS crash cannot bring a cancelled job back or forget a submitted one.
 * A kill -9 cannot show this (the page cache survives the process), so the test watches the registry's writes.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Level } from 'level';
import { JobRegistry, type JobRecord } from '../../runtime/service/job-registry.ts';
import { tempDir } from '../support/temp-dir.ts';

/** Every `put` and `del` of every LevelDB in this process until the test ends, with whether it was synced. */
function watchWrites(t: TestContext): Array<{ op: string; key: string; sync: boolean }> {
  const writes: Array<{ op: string; key: string; sync: boolean }> = [];
  const proto = Level.prototype as unknown as Record<'put' | 'del', (...args: unknown[]) => unknown>;
  for (const op of ['put', 'del'] as const) {
    const original = proto[op];
    proto[op] = function (this: unknown, ...args: unknown[]) {
      const options = args[op === 'put' ? 2 : 1] as { sync?: boolean } | undefined;
      writes.push({ op, key: String(args[0]), sync: options?.sync === true });
      return original.apply(this, args);
    };
    t.after(() => {
      proto[op] = original;
    });
  }
  return writes;
}

test('every write of the job registry is synced: submit, update, delete', async (t) => {
  const registry = await JobRegistry.open(await tempDir(t));
  t.after(() => registry.close());
  const writes = watchWrites(t);
  const record: JobRecord = { name: 'orders', file: '/jobs/orders.ts', params: {}, allowNonRestoredState: false, state: 'running', startFrom: { from: 'latest' }, submittedAt: 1, updatedAt: 1 };
  await registry.put(record);
  await registry.update('orders', { state: 'cancelled' });
  assert.equal((await registry.get('orders'))?.state, 'cancelled');
  assert.equal(await registry.delete('orders'), true);
  assert.deepEqual(writes, [
    { op: 'put', key: 'job!orders', sync: true },
    { op: 'put', key: 'job!orders', sync: true },
    { op: 'del', key: 'job!orders', sync: true },
  ]);
});
