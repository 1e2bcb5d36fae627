import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CheckpointStore, type CheckpointManifest, type ManifestHeader } from '../../../runtime/checkpoint/index.ts';
import { gatherCheckpoint } from '../../../runtime/checkpoint/checkpoint-blobs.ts';
import { ChainCompactor, delegatingOperators } from '../../../runtime/checkpoint/chain-compactor.ts';
import { keyedChains, type BlobRef } from '../../../runtime/checkpoint/manifest.ts';
import type { SubtaskAck } from '../../../runtime/exec/index.ts';
import { JobParams } from '../../../runtime/api/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { expectedUpdates, LEVELDB_STATE, sessionsJob, type Update } from './fixtures/incremental-sessions.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { HeapKeyedStateBackend, type KeyedStateBackend } from '../../../runtime/state/index.ts';
import { LevelDbKeyedStateBackend } from '../../../runtime/state/leveldb/leveldb-keyed-state-backend.ts';
import { MAX_CHAIN_LENGTH } from '../../../runtime/state/snapshots/chain-policy.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';

const M = 4;
const JOB = 'compaction';
const KEYS = 400;

function header(id: number): ManifestHeader {
  return { job: JOB, id, kind: 'checkpoint', timestamp: id, durationMs: 1, parallelism: 1, maxParallelism: M, operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {} };
}

/**
 * A backend that delegates rebasing (as subtasks on worker threads do), checkpointed through the coordinator's steps:
 * merge overdue chains, gather (taking merged blobs), write, queue background merges.
 */
class DelegatingJob {
  readonly values = new Map<string, number>();
  parent: CheckpointManifest | undefined;
  readonly manifests: CheckpointManifest[] = [];

  constructor(
    readonly store: CheckpointStore,
    readonly compactor: ChainCompactor | undefined,
    readonly backend: KeyedStateBackend = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true, delegateRebase: true }),
  ) {}

  /** Adds `round` to a tenth of the keys (a different tenth each round); every 13th key of that tenth loses its state. */
  change(round: number): void {
    const count = this.backend.getValueState<number>('count');
    for (let k = round % 10; k < KEYS; k += 10) {
      const key = `user-${k}`;
      this.backend.setCurrentKey(key);
      if (k % 13 === 0 && round % 3 === 2) {
        count.clear();
        this.values.delete(key);
      } else {
        const next = (count.value() ?? 0) + round;
        count.update(next);
        this.values.set(key, next);
      }
    }
  }

  async checkpoint(id: number, background: boolean): Promise<CheckpointManifest> {
    const snapshot = await this.backend.snapshot(id);
    assert.equal(snapshot.incremental?.delegatesRebase, true);
    const ack: SubtaskAck = { checkpointId: id, stage: 0, subtask: 0, operators: [{ uid: 'count', snapshot: { keyed: snapshot.keyGroups, incremental: snapshot.incremental! } }] };
    const delegating = delegatingOperators([ack]);
    await this.compactor?.compactOverdue(this.parent, delegating);
    const { blobs } = gatherCheckpoint([ack], this.parent, this.compactor);
    const manifest = await this.store.write(header(id), blobs, { retain: 2 });
    this.parent = manifest;
    this.manifests.push(manifest);
    if (background) {
      this.compactor?.afterCheckpoint(manifest, delegating);
      await this.compactor?.idle();
    }
    return manifest;
  }
}

async function open(t: TestContext): Promise<CheckpointStore> {
  const store = await CheckpointStore.open(await tempDir(t));
  t.after(() => store.close());
  return store;
}

/** The state the newest checkpoint restores, key by key. */
async function restored(store: CheckpointStore, id: number): Promise<Map<string, number>> {
  const backend = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 } });
  await backend.restore((await store.load(JOB, id)).keyedState('count'));
  const count = backend.getValueState<number>('count');
  const out = new Map<string, number>();
  for (let k = 0; k < KEYS; k++) {
    backend.setCurrentKey(`user-${k}`);
    const v = count.value();
    if (v !== undefined) out.set(`user-${k}`, v);
  }
  return out;
}

type BackendKind = 'heap' | 'leveldb';

/** A delegating backend of `kind`, ready for records (the LevelDB one with a small cache: most keys are evicted). */
async function delegatingBackend(t: TestContext, kind: BackendKind): Promise<KeyedStateBackend> {
  const options = { maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true, delegateRebase: true };
  if (kind === 'heap') return new HeapKeyedStateBackend(options);
  const backend = new LevelDbKeyedStateBackend({ ...options, cacheBytes: 16 * 1024 });
  t.after(() => backend.close());
  await backend.restore([]);
  return backend;
}

const longestChain = (m: CheckpointManifest): number => Math.max(...[...keyedChains(m.blobs).values()].map((c) => c.length));
const compacted = (m: CheckpointManifest): BlobRef[] => m.blobs.filter((b) => b.key.endsWith('!compacted'));

for (const kind of ['heap', 'leveldb'] as const) {
test(`the coordinator merges long chains of a delegating backend in the background: chains stay bounded, every checkpoint restores exactly (${kind})`, async (t) => {
  const store = await open(t);
  const job = new DelegatingJob(store, new ChainCompactor(store, M, silentLogger()), await delegatingBackend(t, kind));
  let merged = 0;
  for (let id = 1; id <= 40; id++) {
    job.change(id);
    const manifest = await job.checkpoint(id, true);
    merged += compacted(manifest).length;
    assert.ok(longestChain(manifest) <= MAX_CHAIN_LENGTH, `checkpoint ${id}: a chain of ${longestChain(manifest)} blobs`);
    assert.deepEqual(await restored(store, id), job.values, `checkpoint ${id} restores the state it was taken of`);
  }
  assert.ok(merged > 0, 'some chains were merged by the coordinator');
  // The merged blobs are full blobs that start their chains; the backend itself wrote full blobs only at the start.
  for (const manifest of job.manifests.slice(1)) {
    for (const chain of keyedChains(manifest.blobs).values()) assert.notEqual(chain[0]!.delta, true);
    for (const ref of manifest.blobs) if (!ref.key.endsWith('!compacted') && ref.key.includes(`!${String(manifest.id).padStart(12, '0')}!`)) assert.equal(ref.delta, true, `checkpoint ${manifest.id} wrote ${ref.key} as a delta`);
  }
});

test(`a chain past the hard bound is merged before the checkpoint that would lengthen it, without background merges (${kind})`, async (t) => {
  const store = await open(t);
  const job = new DelegatingJob(store, new ChainCompactor(store, M, silentLogger()), await delegatingBackend(t, kind));
  for (let id = 1; id <= 3 * MAX_CHAIN_LENGTH; id++) {
    job.change(id);
    const manifest = await job.checkpoint(id, false);
    assert.ok(longestChain(manifest) <= MAX_CHAIN_LENGTH, `checkpoint ${id}: a chain of ${longestChain(manifest)} blobs`);
  }
  assert.deepEqual(await restored(store, 3 * MAX_CHAIN_LENGTH), job.values);
});
}

test('the background stops merging once the merged blobs it holds reach its limit, until a checkpoint takes them', async (t) => {
  const store = await open(t);
  const job = new DelegatingJob(store, undefined);
  for (let id = 1; id <= 12; id++) {
    job.change(id);
    await job.checkpoint(id, false);
  }
  const chains = [...keyedChains(job.parent!.blobs)].filter(([, c]) => c.length > 8);
  assert.ok(chains.length > 1, 'several chains past the soft bound');
  const compactor = new ChainCompactor(store, M, silentLogger(), { readyBytesLimit: 1 });
  compactor.afterCheckpoint(job.parent!, new Set(['count']));
  await compactor.idle();
  assert.equal(chains.filter(([id, c]) => compactor.take(id, c) !== undefined).length, 1, 'one merge, then the limit');
});

test('without the compactor a delegating backend never rebases: its chains grow with every checkpoint', async (t) => {
  // What the compactor is for: this is the same job with nobody bounding its chains.
  const store = await open(t);
  const job = new DelegatingJob(store, undefined);
  for (let id = 1; id <= MAX_CHAIN_LENGTH + 4; id++) {
    job.change(id);
    await job.checkpoint(id, false);
  }
  assert.equal(longestChain(job.parent!), MAX_CHAIN_LENGTH + 4);
  assert.deepEqual(await restored(store, MAX_CHAIN_LENGTH + 4), job.values);
});

test('a merged blob is dropped when its chain was rebased before it could be used, and a failed merge leaves the chain as it is', async (t) => {
  const store = await open(t);
  const compactor = new ChainCompactor(store, M, silentLogger());
  const job = new DelegatingJob(store, compactor);
  for (let id = 1; id <= 12; id++) {
    job.change(id);
    await job.checkpoint(id, false);
  }
  const parent = job.parent!;
  const [id, chain] = [...keyedChains(parent.blobs)].find(([, c]) => c.length > 2)!;
  compactor.afterCheckpoint(parent, new Set(['count']));
  await compactor.idle();
  // The chain as another checkpoint has it: rebased (a different first blob). The merged blob does not apply.
  const rebased: BlobRef[] = [{ ...chain[0]!, key: `${chain[0]!.key}-other` }, ...chain.slice(1)];
  assert.equal(compactor.take(id, rebased), undefined);
  assert.equal(compactor.take(id, chain), undefined, 'each merged blob is handed out once');

  // A chain whose blob cannot be read: the merge fails in the background, is logged, and nothing is replaced.
  const warnings: string[] = [];
  const logger = { ...silentLogger(), warn: (_: unknown, msg: string) => void warnings.push(msg) } as unknown as ReturnType<typeof silentLogger>;
  const broken = new ChainCompactor({ readBlobs: async () => Promise.reject(new Error('blob is missing')) }, M, logger);
  broken.afterCheckpoint(parent, new Set(['count']));
  await broken.idle();
  assert.ok(warnings.some((w) => w.includes('chain stays as it is')), warnings.join('\n'));
  for (const [chainId, c] of keyedChains(parent.blobs)) assert.equal(broken.take(chainId, c), undefined);
});

// Heap subtasks delegate on worker threads only; LevelDB ones also in the main thread (workers 0).
for (const [kind, workers] of [['heap', 1], ['leveldb', 1], ['leveldb', 0]] as const) {
test(`the coordinator merges a running job's chains, and the output stays exact per key (${kind}, workers ${workers})`, async (t) => {
  const dir = await tempDir(t);
  const output = join(dir, 'out');
  const store = await CheckpointStore.open(join(dir, 'checkpoints'));
  t.after(() => store.close());
  // 50 ms checkpoints; after the first 40 % of the input only 20 hot keys change, so their chains grow every checkpoint.
  // 2,000 records per completed checkpoint, so 30 checkpoints while the records flow however loaded the machine (a
  // chain past 8 blobs is merged; the hot keys' chains grow in each of the last 18), and
  // the job ends only once a checkpoint names a merged chain: else it could end before any chain grew long enough to
  // be merged (or before a merge was taken up), and this test would check nothing.
  const gate = join(dir, 'end');
  const runner = new JobRunner({
    job: kind === 'heap' ? sessionsJob() : sessionsJob(LEVELDB_STATE),
    workers,
    jobModule: new URL(kind === 'heap' ? './fixtures/incremental-sessions.ts' : './fixtures/incremental-sessions-leveldb.ts', import.meta.url),
    params: new JobParams([['output', output], ['rate', '20000'], ['recordsPerCheckpoint', '2000'], ['holdEndUntil', gate]]),
    store,
    restore: { from: 'none' },
    logger: silentLogger(),
  });
  let merged = false;
  runner.events.subscribe((e) => {
    if (e.type === 'checkpoint-completed' && e.manifest.blobs.some((b) => b.key.endsWith('!compacted'))) merged = true;
  });
  let ended = false;
  const run = runner.run().finally(() => (ended = true));
  await waitFor(() => ended || merged, { timeoutMs: 120_000, message: 'a checkpoint naming a merged chain' });
  await writeFile(gate, '');
  await run;
  const got = await readPartFiles<Update>(output);
  const expected = expectedUpdates();
  assert.equal(got.length, expected.length, 'one committed update per record');
  const byKey = (updates: Update[]): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const u of updates) out.set(u.key, [...(out.get(u.key) ?? []), JSON.stringify(u)]);
    return out;
  };
  assert.deepEqual(byKey(got), byKey(expected), 'every key\'s updates, in order');
  const latest = await store.latestValid('incremental-sessions');
  assert.ok(latest !== undefined);
  const blobs = latest.manifest.blobs;
  assert.ok(blobs.some((b) => b.key.endsWith('!compacted')), `the final checkpoint names a merged chain: ${blobs.map((b) => b.key).join(', ')}`);
  assert.ok(longestChain(latest.manifest) <= MAX_CHAIN_LENGTH);
});
}
