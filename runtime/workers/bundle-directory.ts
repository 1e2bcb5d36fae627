import { rmSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'sluice-workers-';

let own: Promise<string> | undefined;

/**
 * This process's folder for worker bundles (worker-bundle.ts): private (mkdtemp, mode 0700), so no other user of the
 * machine can swap a file a worker is about to run; named after the process id, and removed when the process exits.
 * A process that was killed (kill -9, out of memory) cannot remove its own, so creating one also removes the folders
 * of processes that are gone (~1 MB each, that would otherwise pile up until the OS cleans its temp folder).
 */
export function ownBundleDirectory(): Promise<string> {
  own ??= mkdtemp(join(tmpdir(), `${PREFIX}${process.pid}-`)).then((dir) => {
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    void removeAbandonedBundleDirectories(tmpdir()).catch(() => undefined); // best effort, off the start path
    return dir;
  });
  return own;
}

/**
 * Removes the bundle folders in `parent` of this user's processes that no longer run. A folder whose process id is
 * alive (or reused by another process) stays; so do folders of other users and folders without a process id.
 * Answers the folders removed.
 */
export async function removeAbandonedBundleDirectories(parent: string): Promise<string[]> {
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const name of await readdir(parent)) {
    const pid = Number(/^sluice-workers-(\d+)-[^-]+$/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isRunning(pid)) continue;
    const path = join(parent, name);
    try {
      const info = await stat(path);
      if (!info.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
      await rm(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}
