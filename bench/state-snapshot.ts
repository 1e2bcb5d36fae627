/**
 * Snapshot, store and restore of 1,000,000 keys of keyed state (HeapKeyedStateBackend, maxParallelism 128).
 *
 * Figures (one JSON line each, `{"name","value","unit","baseline","ratio"}`):
 * - state/snapshot-1M-keys: backend.snapshot() vs one synchronous msgpackr pack() of the same entries as a plain Map
 * - state/snapshot-max-event-loop-delay: max delay seen by monitorEventLoopDelay and a 1 ms setInterval probe during
 *   the snapshot, against the 50 ms bar
 * - state/checkpoint-write-1M-keys: CheckpointStore.write of the snapshot's 128 blobs, against the 1000 ms bar
 * - state/checkpoint-1M-keys: snapshot + write, against the 1000 ms bar
 * - state/restore-1M-keys: backend.restore() of all blobs vs one unpack + building a Map of the same entries
 * - state/restore-max-event-loop-delay: as above, during the restore
 * - state/incremental-snapshot-1M-keys-1pct-changed: median incremental snapshot with 1% of the keys updated since the
 *   previous one, vs a full snapshot of the same state
 *
 * Run: `npx tsx bench/state-snapshot.ts` (KEYS=200000 for a quicker run).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Packr } from '../runtime/serde/msgpackr.ts';
import { CheckpointStore, type BlobInput } from '../runtime/checkpoint/index.ts';
import { HeapKeyedStateBackend } from '../runtime/state/index.ts';

const KEYS = Number(process.env['KEYS'] ?? 1_000_000);
const M = 128;
const label = KEYS === 1_000_000 ? '1M' : String(KEYS);

function emit(name: string, value: number, unit: string, baseline: number): void {
  const round = (x: number): number => Math.round(x * 100) / 100;
  console.log(JSON.stringify({ name, value: round(value), unit, baseline: round(baseline), ratio: round(value / baseline) }));
}

/** Max event-loop delay while `fn` runs: the histogram (1 ms resolution) and a 1 ms interval probe, whichever is worse. */
async function withDelayProbe<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; maxDelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let probeMax = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    probeMax = Math.max(probeMax, now - last - 1);
    last = now;
  }, 1);
  histogram.enable();
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  histogram.disable();
  clearInterval(probe);
  return { result, ms, maxDelayMs: Math.max(probeMax, histogram.max / 1e6) };
}

// Fresh keys, like records decoded from Kafka: built per use, never interned literals.
const keyOf = (i: number): string => `user-${i.toString(36)}-${(i * 2654435761) % 1000}`;

const backend = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 } });
const counts = backend.getValueState<number>('count');
for (let i = 0; i < KEYS; i++) {
  backend.setCurrentKey(keyOf(i));
  counts.update(i % 1000);
}

// Baseline: the same entries as one plain Map, packed synchronously in one call.
const plain = new Map<string, number>();
for (let i = 0; i < KEYS; i++) plain.set(keyOf(i), i % 1000);
const packr = new Packr({ mapsAsObjects: false, variableMapSize: true });
let t = performance.now();
const plainBytes = packr.pack(plain);
const packBaselineMs = performance.now() - t;

const snap = await withDelayProbe(() => backend.snapshot());
emit(`state/snapshot-${label}-keys`, snap.ms, 'ms', packBaselineMs);
emit('state/snapshot-max-event-loop-delay', snap.maxDelayMs, 'ms', 50);

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
try {
  const store = await CheckpointStore.open(dir);
  const blobs: BlobInput[] = [...snap.result.keyGroups].map(([keyGroup, bytes]) => ({ operatorUid: 'count', keyGroup, bytes }));
  const header = {
    job: 'bench', kind: 'checkpoint' as const, timestamp: Date.now(), durationMs: 0, parallelism: 1, maxParallelism: M,
    operators: [{ uid: 'count', name: 'count', parallelism: 1, stateful: true }], sourcePositions: {},
  };
  // warm-up write: the first batch of a process opens files and pays one-off costs
  await store.write({ ...header, id: await store.nextId('bench') }, blobs.slice(0, 1));
  const write = await withDelayProbe(async () => store.write({ ...header, id: await store.nextId('bench') }, blobs));
  emit(`state/checkpoint-write-${label}-keys`, write.ms, 'ms', 1000);
  emit(`state/checkpoint-${label}-keys`, snap.ms + write.ms, 'ms', 1000);
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}

// Baseline: one unpack of the plain Map's bytes (msgpackr builds the Map).
plain.clear();
t = performance.now();
const unpacked = packr.unpack(plainBytes) as Map<string, number>;
const restoreBaselineMs = performance.now() - t;
if (unpacked.size !== KEYS) throw new Error(`baseline unpacked ${unpacked.size} keys`);

const restored = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 } });
const restore = await withDelayProbe(() => restored.restore(snap.result.keyGroups));
if (restored.keyCount() !== KEYS) throw new Error(`restored ${restored.keyCount()} keys, expected ${KEYS}`);
emit(`state/restore-${label}-keys`, restore.ms, 'ms', restoreBaselineMs);
emit('state/restore-max-event-loop-delay', restore.maxDelayMs, 'ms', 50);

// Incremental snapshots cost what changed: 1% of the keys updated since the previous snapshot, against a full
// snapshot of the same state (the restored backend, non-incremental) in the same run.
const incremental = new HeapKeyedStateBackend({ maxParallelism: M, range: { start: 0, end: M - 1 }, incremental: true });
await incremental.restore(snap.result.keyGroups, 1);
const incrementalCounts = incremental.getValueState<number>('count');
const changedShare = 0.01;
const rounds: number[] = [];
for (let round = 2; round <= 12; round++) {
  for (let i = 0; i < KEYS * changedShare; i++) {
    incremental.setCurrentKey(keyOf((Math.imul(i + round * 7919, 2654435761) >>> 0) % KEYS));
    incrementalCounts.update(round);
  }
  t = performance.now();
  await incremental.snapshot(round);
  rounds.push(performance.now() - t);
}
rounds.sort((a, b) => a - b);
t = performance.now();
await restored.snapshot();
const fullSnapshotMs = performance.now() - t;
if (incremental.keyCount() !== KEYS) throw new Error(`the incremental backend has ${incremental.keyCount()} keys, expected ${KEYS}`);
emit(`state/incremental-snapshot-${label}-keys-1pct-changed`, rounds[rounds.length >> 1]!, 'ms', fullSnapshotMs);
