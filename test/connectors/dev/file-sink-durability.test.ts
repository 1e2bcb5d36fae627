/**
 * The fileSink's renames must reach the disk before a checkpoint that depends on them: a pending file the checkpoint
 * lists, lost to a power loss, leaves only its in-progress file, which the restore deletes; a committed file that a
 * later checkpoint no longer lists, back to pending after a power loss, is deleted by that checkpoint's restore. A
 * kill -9 cannot show this (the page cache survives the process), so the test watches which files are synced: every
 * pre-commit after a rename syncs the directory.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileSink } from '../../../connectors/dev/index.ts';
import { sinkWriterContext } from '../../support/sink-writer-context.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { SYNC_WATCH_SKIP, watchSyncs } from '../../support/watch-syncs.ts';

test('a fileSink pre-commit syncs its directory after the renames since the last one: its pending file and the commits before it', { skip: SYNC_WATCH_SKIP }, async (t) => {
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  const synced = await watchSyncs(t, dir);
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
