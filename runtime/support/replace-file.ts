import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Replaces `file` with `text`, atomically: written to `<file>.tmp`, then renamed over `file`, so a reader or a restart
 * finds either the old or the new content, never a mix. With `sync` (the default) also durably: the temporary file is
 * synced before the rename and the directory after it, so that holds after a crash of the machine too, not only of
 * the process. Throws what the filesystem throws; the temporary file is removed on failure.
 *
 * @example
 * ```ts
 * await replaceFile(join(dataDir, 'registry.json'), `${JSON.stringify(document)}\n`);
 * ```
 * @internal
 */
export async function replaceFile(file: string, text: string, options: { sync?: boolean } = {}): Promise<void> {
  const sync = options.sync ?? true;
  const temp = `${file}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(text);
      if (sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  if (sync) await syncDirectory(dirname(file));
}

/**
 * Makes the renames and creations in `directory` durable: an fsync of the directory. Where the platform or the
 * filesystem cannot sync a directory (Windows; some network and FUSE filesystems answer EINVAL or ENOTSUP), the renames
 * are as durable as that filesystem makes them, and this returns without an error rather than failing every write.
 * @internal
 */
export async function syncDirectory(directory: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } catch (err) {
    if (!CANNOT_SYNC_DIRECTORIES.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle.close();
  }
}

/** What an fsync of a directory answers on filesystems that do not support it. */
const CANNOT_SYNC_DIRECTORIES = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EPERM']);
