import { SluiceError } from '../errors/index.ts';
import type { Subtask } from './subtask.ts';

/**
 * Opens every subtask's operators (restoring state), then runs them all. Resolves once all finished and closed;
 * otherwise `fail` is told the first failure (it stops the others), every subtask closes as `failed` (or `cancelled`
 * when the failure is a cancel, so sinks know not to count it as an error), and the first failure is rethrown.
 * Shared by an in-process attempt and a worker's slice of one.
 */
export async function runSubtasks(subtasks: readonly Subtask[], fail: (err: unknown) => void, firstFailure: () => unknown): Promise<void> {
  try {
    for (const subtask of subtasks) await subtask.open();
    await Promise.all(
      subtasks.map((subtask) =>
        subtask.run().catch((err: unknown) => {
          fail(err);
          throw err;
        }),
      ),
    );
  } catch (err) {
    fail(err);
    const failure = firstFailure();
    const cancelled = failure instanceof SluiceError && failure.code === 'SLUICE_CANCELLED';
    await Promise.all(subtasks.map((s) => s.close(cancelled ? 'cancelled' : 'failed')));
    throw failure;
  }
  await Promise.all(subtasks.map((s) => s.close('finished')));
}
