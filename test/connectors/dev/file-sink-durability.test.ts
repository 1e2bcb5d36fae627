/**
 * The fileSink's renames must reach the disk before a checkpoint that depends on them: a pending file the checkpoint
 * lists, lost to a power loss, leaves only its in-progress file, which the restore deletes; a committed file that a
 * later checkpoint no longer lists, back to pending after a power loss, is deleted by that checkpoint's restore. A
 * kill -9 cannot show this (the page cache survives the process), so the test watches which files are synced: every
 * pre-commit after a rename syncs the directory. Linux only (it names synced descriptors through /proc/self/fd).
 */
import assert from 'node:assert/strict';
import { open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileSink } from '../../../connectors/dev/index.ts';
import { sinkWriterContext } from '../../support/sink-writer-context.ts';
import { tempDir } from '../../support/temp-dir.ts';

/** Paths of the files and directories synced through a FileHandle until the test ends. */
async function watchSyncs(t: TestContext, probe: string): Promise<string[]> {
  const handle = await open(probe, 'w');
  const proto = Object.getPrototypeOf(handle) as { sync: (this: { fd: number }) => Promise<void> };
  await handle.close();
  const original = proto.sync;
  const synced: string[] = [];
  proto.sync = async function (this: { fd: number }) {
    synced.push(await readlink(`/proc/self/fd/${this.fd}`));
    return original.call(this);
  };
  t.after(() => {
    proto.sync = original;
  });
  return synced;
}

test('a fileSink pre-commit syncs its directory after the renames since the last one: its pending file and the commits before it', { skip: process.platform !== 'linux' && 'names synced files through /proc/self/fd' }, async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const synced = await watchSyncs(t, join(dir, 'probe'));
  const writer = fileSink<{ n: number }>({ directory: out }).createWriter(sinkWriterContext());
  await writer.start();
  t.after(() => writer.close('finished'));

  await writer.write([{ n: 1 }]);
  const first = (await writer.preCommit(1)) as { pending: string[] };
  assert.equal(first.pending.length, 1);
  assert.deepEqual(synced.map((p) => (p === out ? 'directory' : 'file')), ['file', 'directory'], 'the part file, then the directory holding its pending name');

  synced.length = 0;
  await writer.commit(1);
  assert.deepEqual(await writer.preCommit(2), { pending: [] });
  assert.deepEqual(synced, [out], 'nothing new to roll, but the commit\'s rename is made durable before checkpoint 2, which no longer lists the file');

  synced.length = 0;
  await writer.preCommit(3);
  assert.deepEqual(synced, [], 'no rename since: no sync');
});
