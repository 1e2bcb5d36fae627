import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeAbandonedDirectories } from '../support/abandoned-directories.ts';

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

/** Removes the bundle folders in `parent` of this user's processes that no longer run; answers the folders removed. */
export function removeAbandonedBundleDirectories(parent: string): Promise<string[]> {
  return removeAbandonedDirectories(parent, PREFIX);
}
