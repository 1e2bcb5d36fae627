import type { CheckpointManifest } from '../checkpoint/index.ts';

/** The job's life as it happens: the control-plane stream (rxjs), never the record path. */
export type JobEvent =
  | { readonly type: 'attempt-started'; readonly attempt: number; readonly restoredFrom: number | undefined; readonly parallelism: number }
  | { readonly type: 'checkpoint-completed'; readonly manifest: CheckpointManifest }
  /** A checkpoint that timed out or could not be stored; its attempt fails and restarts from the previous one. */
  | { readonly type: 'checkpoint-failed'; readonly checkpointId: number; readonly error: Error }
  | {
      readonly type: 'attempt-failed';
      readonly attempt: number;
      readonly error: unknown;
      readonly restartInMs: number | undefined;
      /** The error cannot go away on a retry (`retriable: false`, docs/errors.md): the job fails without a restart. */
      readonly fatal: boolean;
    }
  | { readonly type: 'splits-changed'; readonly source: string; readonly splits: number; readonly added: readonly string[]; readonly removed: readonly string[] }
  | { readonly type: 'rescale-started'; readonly from: number; readonly to: number; readonly reason: string }
  | { readonly type: 'rescaled'; readonly rescale: RescaleRecord }
  | { readonly type: 'finished' }
  | { readonly type: 'cancelled' }
  | { readonly type: 'failed'; readonly error: unknown; readonly fatal: boolean };

/** Where the job stands. */
export type JobState = 'created' | 'running' | 'rescaling' | 'restarting' | 'finished' | 'cancelled' | 'failed';

/** One completed rescale, for the job's status and history. */
export interface RescaleRecord {
  readonly from: number;
  readonly to: number;
  /** Why: `requested by the user`, or the source whose splits changed and the policy that chose `to`. */
  readonly reason: string;
  readonly trigger: 'manual' | 'splits-changed';
  /** The checkpoint taken before stopping, which the new parallelism restored. */
  readonly checkpointId: number;
  readonly startedAt: number;
  /** From the request to the new attempt running (checkpoint, stop, state redistribution, start). */
  readonly durationMs: number;
}
