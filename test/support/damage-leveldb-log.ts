import assert from 'node:assert/strict';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Overwrites 40 bytes in the middle of the one write-ahead log of the LevelDB in `directory` (closed), as a bad disk
 * would: its records fail their checksum, and LevelDB drops them when it reopens the database, without an error.
 */
export async function damageLevelDbLog(directory: string): Promise<void> {
  const logs = (await readdir(directory)).filter((name) => name.endsWith('.log'));
  assert.equal(logs.length, 1, `one LevelDB log in ${directory}: ${logs.join(', ')}`);
  const file = await open(join(directory, logs[0]!), 'r+');
  try {
    await file.write(Buffer.alloc(40, 'X'), 0, 40, 100);
  } finally {
    await file.close();
  }
}
