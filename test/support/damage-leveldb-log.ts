import assert from 'node:assert/strict';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** LevelDB's write-ahead log is written in blocks of this size; a record that fails its checksum costs its block. */
const LOG_BLOCK_BYTES = 32 * 1024;

/**
 * Overwrites 40 bytes near the start of every block of the one write-ahead log of the LevelDB in `directory` (closed),
 * as a bad disk would: the records there fail their checksum, and LevelDB drops them when it reopens the database,
 * without an error. Every block is hit so that the newest records are lost too, however long the log.
 */
export async function damageLevelDbLog(directory: string): Promise<void> {
  const logs = (await readdir(directory)).filter((name) => name.endsWith('.log'));
  assert.equal(logs.length, 1, `one LevelDB log in ${directory}: ${logs.join(', ')}`);
  const file = await open(join(directory, logs[0]!), 'r+');
  try {
    const { size } = await file.stat();
    for (let block = 0; block + 140 <= size; block += LOG_BLOCK_BYTES) await file.write(Buffer.alloc(40, 'X'), 0, 40, block + 100);
  } finally {
    await file.close();
  }
}
