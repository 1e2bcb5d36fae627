// A source wrapper for tests whose premise needs checkpoints to happen while records flow (chains that grow, merges
// that follow): the records are paced by completed checkpoints, not by time, so a loaded machine, where checkpoints
// take longer, sees as many checkpoints during the input as an idle one. Fixture job modules take it through a param
// (e.g. `recordsPerCheckpoint`).
import type { Source } from '../../runtime/api/index.ts';
import { wrapReaders } from './wrapped-source.ts';

/** `inner`, whose readers hand out about `perCheckpoint` records (whole batches) per completed checkpoint. */
export function pacedByCheckpoints<T>(inner: Source<T>, perCheckpoint: number): Source<T> {
  return wrapReaders(inner, (reader) => {
    let allowance = perCheckpoint;
    let wake: (() => void) | undefined;
    return {
      poll: () => {
        if (allowance <= 0) return null;
        const batch = reader.poll();
        if (Array.isArray(batch)) allowance -= batch.length;
        return batch;
      },
      available: () => (allowance > 0 ? reader.available() : new Promise<void>((resolve) => (wake = resolve))),
      notifyCheckpointComplete: async (id) => {
        allowance = perCheckpoint;
        wake?.();
        wake = undefined;
        await reader.notifyCheckpointComplete?.(id);
      },
    };
  });
}

/**
 * `inner`, whose readers, once they handed out `afterRecords` records, hand out nothing more until they saw
 * `checkpoints` checkpoints complete; then they go on as `inner` does. For seeded failures that wait for a first
 * commit: however loaded the machine, the commit comes while most records are still to come.
 */
export function heldForCheckpoints<T>(inner: Source<T>, options: { readonly afterRecords: number; readonly checkpoints: number }): Source<T> {
  return wrapReaders(inner, (reader) => {
    let handedOut = 0;
    let completed = 0;
    let wake: (() => void) | undefined;
    const held = (): boolean => handedOut >= options.afterRecords && completed < options.checkpoints;
    return {
      poll: () => {
        if (held()) return null;
        const batch = reader.poll();
        if (Array.isArray(batch)) handedOut += batch.length;
        return batch;
      },
      available: () => (held() ? new Promise<void>((resolve) => (wake = resolve)) : reader.available()),
      notifyCheckpointComplete: async (id) => {
        completed++;
        wake?.();
        wake = undefined;
        await reader.notifyCheckpointComplete?.(id);
      },
    };
  });
}
