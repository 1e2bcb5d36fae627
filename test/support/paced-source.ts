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
