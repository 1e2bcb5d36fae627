import { SluiceError } from '../errors/index.ts';
import { seededRandom } from './seeded-random.ts';
import { TestingErrorCodes } from './testing-errors.ts';

/**
 * Where an injected fault fails the attempt, in the order a checkpoint passes through them:
 *
 * - `sink-write`: a sink's `write` throws while records flow between two checkpoints (a kill mid-stream);
 * - `barrier`: a source throws as a checkpoint barrier reaches it, before any operator snapshots (a kill just before
 *   the barrier);
 * - `sink-pre-commit`: a sink's `preCommit` throws after its own pre-commit ran (flushed, never acknowledged);
 * - `before-store`: every subtask acknowledged, the checkpoint is never stored (a kill between pre-commit and store);
 * - `sink-commit`: the checkpoint is stored, a sink's `commit` throws before committing (a kill after store, before
 *   commit: the restore must commit what the checkpoint lists).
 */
export type FaultPoint = 'sink-write' | 'barrier' | 'sink-pre-commit' | 'before-store' | 'sink-commit';

/** Every {@link FaultPoint}, in checkpoint order. */
export const FAULT_POINTS: readonly FaultPoint[] = ['sink-write', 'barrier', 'sink-pre-commit', 'before-store', 'sink-commit'];

/** Which faults to inject (see {@link FaultPoint}). */
export interface FaultOptions {
  /** Number of faults, each failing one attempt; the job restarts after each from its latest checkpoint. */
  readonly crashes: number;
  /** Seed of the plan: the same seed plans the same faults. Default 1. */
  readonly seed?: number;
  /** Points to draw from; default all of {@link FAULT_POINTS}. */
  readonly points?: readonly FaultPoint[];
}

/** One planned fault: fire at `point`, after letting `skip` earlier opportunities pass. */
export interface PlannedFault {
  /** Where the fault fires. */
  readonly point: FaultPoint;
  /** How many opportunities at that point pass before it fires. */
  readonly skip: number;
}

/** A fault that fired. */
export interface FiredFault {
  /** 1-based number in the plan. */
  readonly n: number;
  /** Where it fired; a planned `sink-write` fires at a `barrier` when no more records flow (see the report). */
  readonly point: FaultPoint;
  /** The point it was planned at. */
  readonly planned: FaultPoint;
  /** The checkpoint it interrupted (not set for `sink-write`). */
  readonly checkpointId?: number;
  /** Operator uid (source or sink) it fired in, or `coordinator` for `before-store`. */
  readonly operator: string;
  /** The subtask it fired in, where there is one. */
  readonly subtask?: number;
  /** One line for a person, e.g. `sink "out" subtask 0: commit of checkpoint 4 failed (after store)`. */
  readonly description: string;
}

/** What the injector planned and what fired, live while the job runs. */
export interface FaultReport {
  /** The seed the plan was drawn from. */
  readonly seed: number;
  /** Every planned fault, in order. */
  readonly planned: readonly PlannedFault[];
  /** The faults that fired so far, in order. */
  readonly fired: readonly FiredFault[];
  /** Planned faults that have not fired (yet). */
  readonly pending: number;
}

/**
 * Draws `crashes` faults from `seed`. Skips are small so faults land early and bounded jobs still meet them. The
 * same options plan the same faults: what {@link startJob} does with `faults`, for printing a plan before a run.
 *
 * @example
 * ```ts
 * planFaults({ crashes: 3, seed: 42 });
 * // [{ point: 'before-store', skip: 0 }, { point: 'sink-commit', skip: 1 }, { point: 'sink-write', skip: 2 }]
 * ```
 */
export function planFaults(options: FaultOptions): PlannedFault[] {
  const { crashes } = options;
  const seed = options.seed ?? 1;
  const points = options.points ?? FAULT_POINTS;
  if (!Number.isInteger(crashes) || crashes < 0) invalid(`faults.crashes must be a non-negative integer, got ${String(crashes)}`);
  if (!Number.isInteger(seed)) invalid(`faults.seed must be an integer, got ${String(seed)}`);
  if (points.length === 0 || points.some((p) => !FAULT_POINTS.includes(p))) {
    invalid(`faults.points must be a non-empty list of ${FAULT_POINTS.join(', ')}; got ${JSON.stringify(points)}`);
  }
  const random = seededRandom(seed);
  return Array.from({ length: crashes }, () => {
    const point = points[Math.floor(random() * points.length)] as FaultPoint;
    // Writes come by the dozen, checkpoints one at a time: skip a few writes but at most one checkpoint.
    const skip = point === 'sink-write' ? Math.floor(random() * 4) : Math.floor(random() * 2);
    return { point, skip };
  });
}

function invalid(message: string): never {
  throw new SluiceError(TestingErrorCodes.invalidOption, message, { retriable: false });
}

/** What the injector knows about one attempt; attempts are told apart by their abort signal. */
interface AttemptFacts {
  readonly number: number;
  readers: number;
  endedReaders: number;
  writes: number;
  /** Writes counted when the previous barrier passed (-1 before the first barrier). */
  writesAtLastBarrier: number;
  lastBarrier: number;
}

/** Where a hook is called from. */
export interface FaultSite {
  readonly signal: AbortSignal;
  readonly operator: string;
  readonly subtask?: number;
  readonly checkpointId?: number;
}

/**
 * Fires a {@link planFaults} plan one fault at a time: fault n+1 is armed only in an attempt after the one fault n
 * failed, so every fault costs one restart. A checkpoint fault never skips a bounded job's final checkpoint (all
 * sources ended), and a planned `sink-write` fires at the next barrier once no records flow any more, so every
 * planned fault fires as long as the job keeps taking checkpoints.
 */
export class FaultInjector {
  readonly #seed: number;
  readonly #plan: readonly PlannedFault[];
  readonly #fired: FiredFault[] = [];
  readonly #attempts = new WeakMap<AbortSignal, AttemptFacts>();
  #attemptCount = 0;
  #current: AbortSignal | undefined;
  #skipLeft: number;
  #lastFiredIn: AbortSignal | undefined;

  constructor(options: FaultOptions) {
    this.#seed = options.seed ?? 1;
    this.#plan = planFaults(options);
    this.#skipLeft = this.#plan[0]?.skip ?? 0;
  }

  report(): FaultReport {
    return { seed: this.#seed, planned: this.#plan, fired: [...this.#fired], pending: this.#plan.length - this.#fired.length };
  }

  /** A source reader was created in the attempt of `signal`. */
  readerCreated(signal: AbortSignal): void {
    this.#facts(signal).readers++;
  }

  readerEnded(signal: AbortSignal): void {
    this.#facts(signal).endedReaders++;
  }

  writerCreated(signal: AbortSignal): void {
    this.#facts(signal);
  }

  atWrite(site: FaultSite): SluiceError | undefined {
    this.#facts(site.signal).writes++;
    return this.#maybeFire('sink-write', site, `sink "${site.operator}" subtask ${site.subtask ?? 0}: write failed between checkpoints`);
  }

  atBarrier(site: FaultSite): SluiceError | undefined {
    const facts = this.#facts(site.signal);
    const id = site.checkpointId ?? 0;
    let idle = false;
    if (id > facts.lastBarrier) {
      // The first source subtask to see this barrier decides whether records flowed since the previous one.
      idle = facts.writes === (facts.writesAtLastBarrier < 0 ? 0 : facts.writesAtLastBarrier);
      facts.writesAtLastBarrier = facts.writes;
      facts.lastBarrier = id;
    }
    return this.#maybeFire('barrier', site, `source "${site.operator}" subtask ${site.subtask ?? 0}: failed as barrier ${id} arrived`, idle);
  }

  atPreCommit(site: FaultSite): SluiceError | undefined {
    return this.#maybeFire('sink-pre-commit', site, `sink "${site.operator}" subtask ${site.subtask ?? 0}: failed after pre-committing checkpoint ${site.checkpointId ?? '?'}`);
  }

  /** The `beforeCheckpointStore` seam of JobRunner: it runs in the attempt whose readers were created last. */
  beforeStore(checkpointId: number): SluiceError | undefined {
    const signal = this.#current;
    if (signal === undefined) return undefined;
    return this.#maybeFire('before-store', { signal, operator: 'coordinator', checkpointId }, `checkpoint ${checkpointId}: every subtask acknowledged, the process died before the store write`);
  }

  atCommit(site: FaultSite): SluiceError | undefined {
    return this.#maybeFire('sink-commit', site, `sink "${site.operator}" subtask ${site.subtask ?? 0}: checkpoint ${site.checkpointId ?? '?'} stored, failed before committing it`);
  }

  #facts(signal: AbortSignal): AttemptFacts {
    let facts = this.#attempts.get(signal);
    if (facts === undefined) {
      facts = { number: this.#attemptCount++, readers: 0, endedReaders: 0, writes: 0, writesAtLastBarrier: -1, lastBarrier: 0 };
      this.#attempts.set(signal, facts);
      this.#current = signal;
    }
    return facts;
  }

  #maybeFire(point: FaultPoint, site: FaultSite, description: string, idle = false): SluiceError | undefined {
    const planned = this.#plan[this.#fired.length];
    // One fault per attempt: an attempt that is failing already (or failed by the last fault) is left alone.
    if (planned === undefined || site.signal.aborted || site.signal === this.#lastFiredIn) return undefined;
    const facts = this.#facts(site.signal);
    const final = facts.readers > 0 && facts.endedReaders === facts.readers;
    const writeAtBarrier = planned.point === 'sink-write' && point === 'barrier' && (final || idle);
    if (planned.point !== point && !writeAtBarrier) return undefined;
    if (this.#skipLeft > 0 && !final && !writeAtBarrier) {
      this.#skipLeft--;
      return undefined;
    }
    const n = this.#fired.length + 1;
    const fired: FiredFault = {
      n,
      point,
      planned: planned.point,
      ...(site.checkpointId === undefined ? {} : { checkpointId: site.checkpointId }),
      operator: site.operator,
      ...(site.subtask === undefined ? {} : { subtask: site.subtask }),
      description: writeAtBarrier ? `${description} (planned as sink-write; no records flowed any more)` : description,
    };
    this.#fired.push(fired);
    this.#lastFiredIn = site.signal;
    this.#skipLeft = this.#plan[n]?.skip ?? 0;
    return new SluiceError(
      TestingErrorCodes.injected,
      `injected fault ${n}/${this.#plan.length} (seed ${this.#seed}, attempt ${facts.number}): ${fired.description}; the job restarts from its latest checkpoint`,
      { retriable: true },
    );
  }
}
