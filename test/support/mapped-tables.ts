import { readFileSync } from 'node:fs';

/** Whether this platform has /proc/self/maps (Linux), which {@link mappedTableFiles} reads. */
export const canSeeMappings = ((): boolean => {
  try {
    readFileSync('/proc/self/maps', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/**
 * The LevelDB table files (`*.ldb`) under `folder` that this process has memory-mapped right now: LevelDB maps each
 * table file it holds open, so this is how many it holds open (Linux only; see {@link canSeeMappings}).
 */
export function mappedTableFiles(folder: string): Set<string> {
  const files = new Set<string>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const at = line.indexOf(folder);
    if (at >= 0 && line.endsWith('.ldb')) files.add(line.slice(at));
  }
  return files;
}
