import { open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * Records the path of every file or directory synced through a `FileHandle` (`handle.sync()`) in this process until
 * the test ends: durability against a power loss cannot be shown by a kill -9 (the page cache survives the process),
 * so tests watch what is synced. Linux only: paths come from /proc/self/fd. `scratch` is a directory the watcher may
 * create a probe file in (to reach FileHandle's prototype). `failWith(path)` may name an errno code for a sync of
 * `path` to fail with, after it synced: a filesystem that answers so.
 *
 * @example
 * ```ts
 * const synced = await watchSyncs(t, dir);
 * await store.exportTo('orders', 1, file);
 * assert.ok(synced[0]!.startsWith(`${file}.tmp-`));
 * ```
 */
export async function watchSyncs(t: TestContext, scratch: string, options: { failWith?: (path: string) => string | undefined } = {}): Promise<string[]> {
  const probe = await open(join(scratch, '.sync-probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { sync: (this: { fd: number }) => Promise<void> };
  await probe.close();
  const original = proto.sync;
  const synced: string[] = [];
  proto.sync = async function (this: { fd: number }) {
    const path = await readlink(`/proc/self/fd/${this.fd}`);
    synced.push(path);
    await original.call(this);
    const code = options.failWith?.(path);
    if (code !== undefined) throw Object.assign(new Error(`${code}: fsync ${path}`), { code });
  };
  t.after(() => {
    proto.sync = original;
  });
  return synced;
}

/** The skip reason of a test that uses {@link watchSyncs}, off Linux. */
export const SYNC_WATCH_SKIP = process.platform !== 'linux' && 'names synced files through /proc/self/fd (Linux)';
