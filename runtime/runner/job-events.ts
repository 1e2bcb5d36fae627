import type { CheckpointManifest } from '../checkpoint/index.ts';

/** The job's life as it happens: the control-plane stream (rxjs), never the record path. */
export type JobEvent =
  | { readonly type: 'attempt-started'; readonly attempt: number; readonly restoredFrom: number | undefined; readonly parallelism: number }
  | { readonly type: 'checkpoint-completed'; readonly manifest: CheckpointManifest }
  | { readonly type: 'attempt-failed'; readonly attempt: number; readonly error: unknown; readonly restartInMs: number | undefined }
  | { readonly type: 'finished' }
  | { readonly type: 'cancelled' }
  | { readonly type: 'failed'; readonly error: unknown };

/** Where the job stands. */
export type JobState = 'created' | 'running' | 'restarting' | 'finished' | 'cancelled' | 'failed';
