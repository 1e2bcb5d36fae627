import type { CheckpointManifest, LoadedCheckpoint } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { RestoredState } from '../exec/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import { unpackValue } from '../serde/index.ts';

/**
 * Checks that a checkpoint can be restored into a plan and builds the executor's view of it. Key groups are
 * redistributed by the executor (each keyed subtask keeps the groups it owns), so any parallelism works; only
 * maxParallelism must match.
 */
/** Restored state with the manifest it came from (the coordinator builds incremental checkpoints on its chains). */
export interface RestoredCheckpoint extends RestoredState {
  readonly manifest: CheckpointManifest;
}

export function toRestoredState(
  loaded: LoadedCheckpoint,
  plan: PhysicalPlan,
  options: { allowNonRestoredState: boolean },
): RestoredCheckpoint {
  const manifest = loaded.manifest;
  assertRestorable({ what: `${manifest.kind} ${manifest.id}`, job: manifest.job, maxParallelism: manifest.maxParallelism, statefulUids: statefulUids(manifest) }, plan, options);
  const positions = new Map<string, Map<string, unknown>>();
  for (const [uid, list] of Object.entries(manifest.sourcePositions)) {
    positions.set(uid, new Map(list.map((p) => [p.split, p.position])));
  }
  // Taken out of `loaded` now, which is then not kept: the attempt holds this for its life, and the keyed chains (most
  // of a large checkpoint) are read once, by the subtask that owns each key group, and let go of as they are.
  const keyed = new Map<string, ReadonlyMap<number, Uint8Array>>();
  const operator = new Map<string, Uint8Array[]>();
  for (const uid of new Set(manifest.blobs.map((ref) => ref.operatorUid))) {
    const chains = loaded.keyedState(uid, { readOnce: true });
    if (chains.size > 0) keyed.set(uid, chains);
    const bySubtask = loaded.operatorState(uid);
    if (bySubtask.size > 0) operator.set(uid, [...bySubtask.entries()].sort(([a], [b]) => a - b).map(([, bytes]) => bytes));
  }
  return {
    manifest,
    checkpointId: manifest.id,
    sourcePositions: (uid) => positions.get(uid),
    keyedState: (uid) => keyed.get(uid),
    // Decoded for every caller: each new subtask gets every old subtask's entry, as objects of its own.
    operatorState: (uid) => operator.get(uid)?.map((bytes) => unpackValue(bytes)),
  };
}

/** What is about to be restored: a stored checkpoint, or (before a replace) the state a running job will leave. */
export interface RestoreCandidate {
  /** For messages: `checkpoint 42`, `the running job`. */
  readonly what: string;
  readonly job: string;
  readonly maxParallelism: number;
  /** Uids that have (or may have) state in it. */
  readonly statefulUids: readonly string[];
}

/**
 * Throws the error a restore of `from` into `plan` would fail with: a changed maxParallelism, or state of operator
 * uids the plan no longer has (unless `allowNonRestoredState`). Cheap (no state is read), so a replace checks it
 * before it stops the running job.
 */
export function assertRestorable(from: RestoreCandidate, plan: PhysicalPlan, options: { allowNonRestoredState: boolean }): void {
  if (from.maxParallelism !== plan.maxParallelism) {
    throw new SluiceError(
      'SLUICE_MAX_PARALLELISM_CHANGED',
      `${from.what} of job "${from.job}" was taken with maxParallelism ${from.maxParallelism}, the job now has ${plan.maxParallelism}: key groups cannot be remapped; set maxParallelism back to ${from.maxParallelism}, or start without that state (sluice run --fresh; for a job in the service, sluice checkpoint clear ${from.job})`,
      { retriable: false },
    );
  }
  const uids = new Set(plan.stages.flatMap((s) => s.operators.map((o) => o.uid)));
  const orphaned = from.statefulUids.filter((uid) => !uids.has(uid));
  if (orphaned.length > 0 && !options.allowNonRestoredState) {
    throw new SluiceError(
      'SLUICE_STATE_NOT_RESTORED',
      `${from.what} of job "${from.job}" has state for operator uid${orphaned.length > 1 ? 's' : ''} ${orphaned.map((u) => `"${u}"`).join(', ')} that the job no longer has: give the operator its old uid with .uid(...), or pass --allow-non-restored-state to drop that state`,
      { retriable: false },
    );
  }
}

/** Uids that have anything in the checkpoint: blobs or source positions. */
function statefulUids(manifest: CheckpointManifest): string[] {
  const uids = new Set<string>();
  for (const blob of manifest.blobs) uids.add(blob.operatorUid);
  for (const [uid, list] of Object.entries(manifest.sourcePositions)) if (list.length > 0) uids.add(uid);
  return [...uids];
}
