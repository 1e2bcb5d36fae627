import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Removes the folders in `parent` named `<prefix><pid>-<suffix>` whose process no longer runs: folders a process
 * creates for itself (worker bundles, LevelDB working state) and cannot remove when it is killed (kill -9, out of
 * memory). A folder whose process id is alive (or reused by another process) stays; so do folders of other users and
 * folders without a process id. Answers the folders removed.
 *
 * @example
 * ```ts
 * await removeAbandonedDirectories(tmpdir(), 'sluice-workers-');
 * ```
 */
export async function removeAbandonedDirectories(parent: string, prefix: string): Promise<string[]> {
  const uid = process.getuid?.();
  const removed: string[] = [];
  for (const name of await readdir(parent)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-[^-]+$/.exec(name.slice(prefix.length))?.[1]);
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
