import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mappedFilesUnder } from '../../runtime/state/leveldb/table-mmap-slots.ts';

/** Whether this platform has /proc/self/maps and /proc/self/fd (Linux), which the functions below read. */
export const canSeeMappings = ((): boolean => {
  try {
    readFileSync('/proc/self/maps', 'utf8');
    readdirSync('/proc/self/fd');
    return true;
  } catch {
    return false;
  }
})();

/**
 * The LevelDB table files (`*.ldb`) under `folder` that this process has memory-mapped right now (Linux only; see
 * {@link canSeeMappings}). LevelDB maps the tables it opens while it has mmap slots (see
 * runtime/state/leveldb/table-mmap-slots.ts); otherwise it holds a file descriptor ({@link openTableFiles}).
 */
export function mappedTableFiles(folder: string): Set<string> {
  return new Set([...mappedFilesUnder(folder)].filter((file) => file.endsWith('.ldb')));
}

/** The table files under `folder` LevelDB holds open right now: mapped, or read through a file descriptor. */
export function openTableFiles(folder: string): Set<string> {
  const files = mappedTableFiles(folder);
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the listing's own descriptor, too)
    }
    if (target.startsWith(folder) && target.endsWith('.ldb')) files.add(target);
  }
  return files;
}
