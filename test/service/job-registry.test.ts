/**
 * The service's job registry: one JSON file in the data directory, replaced atomically and durably on every change.
 * Its writes answer users' actions (submit, cancel, pause), so they are synced: a power loss or an OS crash cannot
 * bring a cancelled job back or forget a submitted one. A registry from before the file (records in LevelDB, which
 * drops damaged log records without an error) is moved into it when first opened.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Level } from 'level';
import { JobRegistry, type JobRecord } from '../../runtime/service/job-registry.ts';
import { tempDir } from '../support/temp-dir.ts';
import { SYNC_WATCH_SKIP, watchSyncs } from '../support/watch-syncs.ts';

const record = (name: string, state: JobRecord['state'] = 'running'): JobRecord => ({
  name,
  file: `/jobs/${name}.ts`,
  params: { brokers: 'localhost:9092' },
  allowNonRestoredState: false,
  state,
  startFrom: { from: 'latest' },
  submittedAt: 1,
  updatedAt: 1,
});

test('the registry keeps its jobs across reopenings: put, update, delete', async (t) => {
  const dir = await tempDir(t);
  const first = await JobRegistry.open(dir);
  await first.put(record('orders'));
  await first.put(record('clicks'));
  assert.equal((await first.update('orders', { state: 'cancelled' }, 5))?.updatedAt, 5);
  assert.equal(await first.update('missing', { state: 'cancelled' }), undefined);
  assert.equal(await first.delete('clicks'), true);
  assert.equal(await first.delete('clicks'), false);
  await first.close();

  const second = await JobRegistry.open(dir);
  t.after(() => second.close());
  assert.deepEqual(await second.list(), [{ ...record('orders'), state: 'cancelled', updatedAt: 5 }]);
  const onDisk = JSON.parse(await readFile(join(dir, 'registry.json'), 'utf8')) as { version: number; jobs: Record<string, JobRecord> };
  assert.equal(onDisk.version, 1);
  assert.deepEqual(Object.keys(onDisk.jobs), ['orders']);
});

test('every change of the registry reaches the disk before it resolves: the file, then its directory', { skip: SYNC_WATCH_SKIP }, async (t) => {
  const dir = await tempDir(t);
  const registry = await JobRegistry.open(dir);
  t.after(() => registry.close());
  const synced = await watchSyncs(t, dir);
  await registry.put(record('orders'));
  await registry.update('orders', { state: 'cancelled' });
  await registry.delete('orders');
  const file = join(dir, 'registry.json');
  assert.deepEqual(synced, [`${file}.tmp`, dir, `${file}.tmp`, dir, `${file}.tmp`, dir]);
});

test('a registry from before the file (LevelDB records) is moved into it, and its records leave the LevelDB', async (t) => {
  const dir = await tempDir(t);
  const legacy = new Level<string, JobRecord>(join(dir, 'registry'), { valueEncoding: 'json' });
  await legacy.put('job!orders', record('orders'));
  await legacy.put('job!paused-one', record('paused-one', 'paused'));
  await legacy.close();

  const registry = await JobRegistry.open(dir);
  assert.deepEqual((await registry.list()).map((r) => [r.name, r.state]), [['orders', 'running'], ['paused-one', 'paused']]);
  await registry.close();
  const after = new Level<string, JobRecord>(join(dir, 'registry'), { valueEncoding: 'json' });
  t.after(() => after.close());
  assert.deepEqual(await after.keys().all(), [], 'no stale records left to come back');
  await after.close();
  const again = await JobRegistry.open(dir);
  t.after(() => again.close());
  assert.deepEqual((await again.list()).map((r) => r.name), ['orders', 'paused-one']);
});

test('an unreadable registry file stops the service with what to do; the LevelDB lock is let go', async (t) => {
  const dir = await tempDir(t);
  const registry = await JobRegistry.open(dir);
  await registry.put(record('orders'));
  await registry.close();
  const file = join(dir, 'registry.json');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.slice(0, text.length / 2));
  await assert.rejects(JobRegistry.open(dir), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'SLUICE_REGISTRY_UNREADABLE');
    assert.match(err.message, /the job registry .*registry\.json cannot be read: not JSON .*Restore it from a backup of the data directory, or move it away to start with no registered jobs/);
    return true;
  });
  await writeFile(file, JSON.stringify({ version: 9, jobs: {} }));
  await assert.rejects(JobRegistry.open(dir), /format version 9, this sluice reads 1/);
  await writeFile(file, text);
  const reopened = await JobRegistry.open(dir); // not locked by the failed opens
  t.after(() => reopened.close());
  assert.equal((await reopened.get('orders'))?.state, 'running');
});

test('on a filesystem that cannot sync a directory (EINVAL), registry writes still succeed; other sync errors fail them', { skip: SYNC_WATCH_SKIP }, async (t) => {
  const dir = await tempDir(t);
  const registry = await JobRegistry.open(dir);
  t.after(() => registry.close());
  // Directories answer as the filesystem is told to; files sync as usual.
  let directoryAnswer = 'EINVAL';
  await watchSyncs(t, dir, { failWith: (path) => (path === dir ? directoryAnswer : undefined) });
  await registry.put(record('orders'));
  assert.equal((await registry.get('orders'))?.state, 'running');
  directoryAnswer = 'EIO';
  await assert.rejects(registry.update('orders', { state: 'cancelled' }), { code: 'EIO' });
  assert.equal((await registry.get('orders'))?.state, 'running', 'a write that failed changes nothing the registry serves');
});
