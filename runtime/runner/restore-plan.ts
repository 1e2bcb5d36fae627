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
export function toRestoredState(
  loaded: LoadedCheckpoint,
  plan: PhysicalPlan,
  options: { allowNonRestoredState: boolean },
): RestoredState {
  const manifest = loaded.manifest;
  if (manifest.maxParallelism !== plan.maxParallelism) {
    throw new SluiceError(
      'SLUICE_MAX_PARALLELISM_CHANGED',
      `${manifest.kind} ${manifest.id} of job "${manifest.job}" was taken with maxParallelism ${manifest.maxParallelism}, the job now has ${plan.maxParallelism}: key groups cannot be remapped; set maxParallelism back to ${manifest.maxParallelism} or start fresh (--fresh)`,
    );
  }
  const uids = new Set(plan.stages.flatMap((s) => s.operators.map((o) => o.uid)));
  const orphaned = statefulUids(manifest).filter((uid) => !uids.has(uid));
  if (orphaned.length > 0 && !options.allowNonRestoredState) {
    throw new SluiceError(
      'SLUICE_STATE_NOT_RESTORED',
      `${manifest.kind} ${manifest.id} of job "${manifest.job}" has state for operator uid${orphaned.length > 1 ? 's' : ''} ${orphaned.map((u) => `"${u}"`).join(', ')} that the job no longer has: give the operator its old uid with .uid(...), or pass --allow-non-restored-state to drop that state`,
    );
  }
  const positions = new Map<string, Map<string, unknown>>();
  for (const [uid, list] of Object.entries(manifest.sourcePositions)) {
    positions.set(uid, new Map(list.map((p) => [p.split, p.position])));
  }
  return {
    checkpointId: manifest.id,
    sourcePositions: (uid) => positions.get(uid),
    keyedState: (uid) => {
      const groups = loaded.keyedState(uid);
      return groups.size === 0 ? undefined : groups;
    },
    operatorState: (uid) => {
      const bySubtask = loaded.operatorState(uid);
      if (bySubtask.size === 0) return undefined;
      return [...bySubtask.entries()].sort(([a], [b]) => a - b).map(([, bytes]) => unpackValue(bytes));
    },
  };
}

/** Uids that have anything in the checkpoint: blobs or source positions. */
function statefulUids(manifest: CheckpointManifest): string[] {
  const uids = new Set<string>();
  for (const blob of manifest.blobs) uids.add(blob.operatorUid);
  for (const [uid, list] of Object.entries(manifest.sourcePositions)) if (list.length > 0) uids.add(uid);
  return [...uids];
}
