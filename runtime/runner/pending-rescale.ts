/**
 * A rescale between its request and the first attempt at the new parallelism: the runner stops the attempt after a
 * checkpoint, restores that checkpoint into the new plan and settles the caller's promise once the new attempt runs
 * (docs/rescaling.md).
 */
import type { PhysicalPlan } from '../graph/index.ts';
import type { RescaleRecord } from './job-events.ts';

export interface PendingRescale {
  readonly from: number;
  readonly to: number;
  readonly reason: string;
  readonly trigger: RescaleRecord['trigger'];
  readonly startedAt: number;
  /** The plan at the new parallelism, built (and so validated) before anything stopped. */
  readonly plan: PhysicalPlan;
  /** The checkpoint taken before stopping: what the new attempt restores. */
  checkpointId: number | undefined;
  readonly promise: Promise<RescaleRecord>;
  readonly resolve: (record: RescaleRecord) => void;
  readonly reject: (error: unknown) => void;
}

/** A rescale just requested: nothing stopped yet, no checkpoint taken. */
export function pendingRescale(request: Pick<PendingRescale, 'from' | 'to' | 'reason' | 'trigger' | 'startedAt' | 'plan'>): PendingRescale {
  let resolve!: (record: RescaleRecord) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<RescaleRecord>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rescale nobody awaits (an automatic one) must not become an unhandled rejection.
  promise.catch(() => undefined);
  return { ...request, checkpointId: undefined, promise, resolve, reject };
}

/** What a completed rescale is remembered as (`JobRunner.rescales`, the `rescaled` event, `sluice status`). */
export function rescaleRecord(pending: PendingRescale, checkpointId: number, now: number): RescaleRecord {
  return {
    from: pending.from,
    to: pending.to,
    reason: pending.reason,
    trigger: pending.trigger,
    checkpointId,
    startedAt: pending.startedAt,
    durationMs: now - pending.startedAt,
  };
}
