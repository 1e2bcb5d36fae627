import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeAbandonedBundleDirectories } from '../../../runtime/workers/bundle-directory.ts';
import { tempDir } from '../../support/temp-dir.ts';

/** The id of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid as number;
  await once(child, 'exit');
  return pid;
}

test('bundle folders of processes that are gone are removed; live ones, other folders and files stay', async (t) => {
  const parent = await tempDir(t);
  const gone = join(parent, `sluice-workers-${await deadPid()}-AbC123`);
  const mine = join(parent, `sluice-workers-${process.pid}-XyZ789`);
  const alive = join(parent, `sluice-workers-${process.ppid}-Qwe456`);
  const older = join(parent, 'sluice-workers-AbC123'); // an older Sluice's name: no process id, left alone
  const other = join(parent, 'something-else-1-abc');
  for (const dir of [gone, mine, alive, older, other]) {
    await mkdir(dir);
    await writeFile(join(dir, 'bundle.mjs'), 'export {};\n');
  }
  const file = join(parent, `sluice-workers-${await deadPid()}-file`);
  await writeFile(file, 'not a folder');

  assert.deepEqual(await removeAbandonedBundleDirectories(parent), [gone]);
  assert.equal(existsSync(gone), false);
  for (const kept of [mine, alive, older, other, file]) assert.ok(existsSync(kept), `${kept} stays`);
});
