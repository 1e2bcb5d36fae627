import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Replaces `file` with `text`, atomically and durably: written to `<file>.tmp`, synced, renamed over `file`, and the
 * directory synced, so after a crash of the process or of the machine the file holds either its old or its new
 * content, never a mix or nothing. Throws what the filesystem throws; the temporary file is removed on failure.
 *
 * @example
 * ```ts
 * await replaceFile(join(dataDir, 'registry.json'), `${JSON.stringify(document)}\n`);
 * ```
 * @internal
 */
export async function replaceFile(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(file));
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
