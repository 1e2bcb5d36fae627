import { SluiceError } from '../../errors/index.ts';

/** What the cluster should do with a job; the owner makes it so. */
export type DesiredState = 'running' | 'paused' | 'cancelled';

/**
 * A one-off change to where the job's next start begins, set by the checkpoint tools (docs/cluster.md): `clear` —
 * no state, every source from its earliest position; `catch-up` — the latest checkpoint's state, every source from
 * its latest position; `import` — the checkpoint export published to the checkpoints topic as import `serial`
 * (`sluice checkpoint restore`, `submit --from`). `serial` is the spec version that set it. Like a standalone
 * service's overrides it is in force until a checkpoint completes under it: a crash before that applies it again.
 */
export interface StartOverride {
  readonly serial: number;
  readonly kind: 'clear' | 'catch-up' | 'import';
}

/**
 * A job as the jobs topic holds it (key: the job name; JSON, so Kafka's own tools can show it). Every change writes
 * the whole spec again with `version` one higher; the owner restarts the job from a savepoint when the version of
 * what it runs is older (a rescale, new parameters, new code).
 */
export interface ClusterJobSpec {
  readonly name: string;
  /** The job module bundled into one ES module (job-bundle.ts). */
  readonly code: string;
  readonly hash: string;
  /** Where it was submitted from (shown, never read). */
  readonly sourceFile: string;
  readonly params: Readonly<Record<string, string>>;
  readonly parallelism?: number;
  readonly workers?: number;
  readonly desired: DesiredState;
  readonly override?: StartOverride;
  readonly version: number;
  readonly submittedAt: number;
  readonly updatedAt: number;
}

export function encodeJobSpec(spec: ClusterJobSpec): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...spec }));
}

/** Decodes a jobs-topic record; throws `SLUICE_CLUSTER_RECORD_CORRUPT` naming the job for anything else. */
export function decodeJobSpec(key: string, value: Uint8Array): ClusterJobSpec {
  let raw: Partial<ClusterJobSpec> & { v?: unknown };
  try {
    raw = JSON.parse(Buffer.from(value).toString('utf8')) as typeof raw;
  } catch (err) {
    throw corrupt(key, 'it is not JSON', err);
  }
  if (raw.v !== 1) throw corrupt(key, `format ${String(raw.v)} is unknown (a newer Sluice wrote it?)`);
  const ok =
    raw.name === key &&
    typeof raw.code === 'string' &&
    typeof raw.hash === 'string' &&
    typeof raw.params === 'object' &&
    raw.params !== null &&
    (raw.desired === 'running' || raw.desired === 'paused' || raw.desired === 'cancelled') &&
    Number.isInteger(raw.version) &&
    (raw.override === undefined || (Number.isInteger(raw.override.serial) && ['clear', 'catch-up', 'import'].includes(raw.override.kind)));
  if (!ok) throw corrupt(key, 'fields are missing or of the wrong type');
  const { v: _v, ...spec } = raw;
  return spec as ClusterJobSpec;
}

/** What a job costs a member, for balancing: parallelism × worker threads (unknown parallelism counts as 1). */
export function weightOf(spec: ClusterJobSpec): number {
  return Math.max(1, spec.parallelism ?? 1) * Math.max(1, spec.workers ?? 1);
}

function corrupt(key: string, what: string, cause?: unknown): SluiceError {
  return new SluiceError('SLUICE_CLUSTER_RECORD_CORRUPT', `the jobs topic's record of job "${key}" cannot be read: ${what}; submit the job again to replace it`, { cause });
}
