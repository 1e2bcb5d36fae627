import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CheckpointStore, checkpointDbPath, type BlobInput } from '../../../runtime/checkpoint/index.ts';
import { STORE_MAX_OPEN_FILES } from '../../../runtime/checkpoint/store-db.ts';
import { canSeeMappings, mappedTableFiles, openTableFiles } from '../../support/mapped-tables.ts';

const JOBS = 100;
const KEY_GROUPS = 32;
const BLOB_BYTES = 64 * 1024;

/** Random bytes (incompressible, so the tables fill as with real blobs), led by the job and key group they belong to. */
function blob(job: number, keyGroup: number): Uint8Array {
  const bytes = randomFillSync(new Uint8Array(BLOB_BYTES));
  bytes[0] = job;
  bytes[1] = keyGroup;
  return bytes;
}

test('the checkpoint store keeps at most 64 table files open, none of them mapped, however many it reads', { skip: !canSeeMappings && 'needs /proc/self/maps (Linux)' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-cp-files-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = await CheckpointStore.open(dir);
  t.after(() => store.close());
  const folder = checkpointDbPath(dir);

  // 100 jobs × 2 MiB of checkpoint: ~200 MiB, more table files than the store may hold open.
  const written = new Map<string, Uint8Array>();
  for (let job = 0; job < JOBS; job++) {
    const blobs: BlobInput[] = [];
    for (let kg = 0; kg < KEY_GROUPS; kg++) {
      const bytes = blob(job, kg);
      written.set(`${job}/${kg}`, bytes);
      blobs.push({ operatorUid: 'count', keyGroup: kg, bytes });
    }
    await store.write({ job: `job-${job}`, id: 1, kind: 'checkpoint', timestamp: Date.now(), durationMs: 1, parallelism: 1, maxParallelism: 128, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} }, blobs);
  }

  let mostOpen = 0;
  let mapped = 0;
  for (let job = 0; job < JOBS; job++) {
    const keyed = (await store.load(`job-${job}`, 1)).keyedState('count');
    for (let kg = 0; kg < KEY_GROUPS; kg++) {
      const read = keyed.get(kg);
      assert.ok(read !== undefined && Buffer.compare(read, written.get(`${job}/${kg}`)!) === 0, `job ${job} key group ${kg}`);
    }
    mostOpen = Math.max(mostOpen, openTableFiles(folder).size);
    mapped += mappedTableFiles(folder).size;
  }
  const tables = (await readdir(folder)).filter((f) => f.endsWith('.ldb')).length;
  assert.ok(tables > STORE_MAX_OPEN_FILES, `the test needs more table files (${tables}) than the store may keep open`);
  assert.ok(mostOpen > 0, 'the reads opened no table file: this check would not see one');
  assert.equal(mapped, 0, 'LevelDB reads tables with pread once the process holds its mmap slots (table-mmap-slots.ts)');
  assert.ok(mostOpen <= STORE_MAX_OPEN_FILES - 10, `${mostOpen} table files open at once; LevelDB keeps max_open_files - 10 tables`);
});
