import type { Sink, SinkWriter, SinkWriterContext } from '../../runtime/api/index.ts';

/**
 * An in-memory "external system" for tests: what a {@link collectSink} has committed, plus the transactions it has
 * pre-committed but not yet committed (like open Kafka transactions). Survives job restarts in one process, so a
 * test can check that no record was lost or duplicated across failures.
 *
 * @example
 * ```ts
 * const target = new CollectTarget<number>();
 * const job = defineJob({ name: 'ones', checkpoints: { intervalMs: 50 } }, (env) => {
 *   env.source(collection([1, 1, 1])).sink(collectSink(target));
 * });
 * // after a run: target.records deep-equals [1, 1, 1]
 * ```
 */
export class CollectTarget<T> {
  /** Committed records, in commit order. */
  readonly records: T[] = [];
  readonly #pending = new Map<string, { attempt: number; job: string; records: T[] }>();
  /** Number of transactions committed and aborted (for tests that check the protocol ran). */
  committedTransactions = 0;
  /** Transactions aborted so far (a failed attempt's, found by the next one). */
  abortedTransactions = 0;

  /** Pre-committed transactions not yet committed or aborted. */
  get pendingTransactions(): number {
    return this.#pending.size;
  }

  /** @internal */
  prepare(id: string, job: string, attempt: number, records: T[]): void {
    this.#pending.set(id, { job, attempt, records });
  }

  /** @internal Idempotent: committing an already committed (or unknown) transaction does nothing. */
  commit(id: string): void {
    const txn = this.#pending.get(id);
    if (txn === undefined) return;
    this.#pending.delete(id);
    for (const record of txn.records) this.records.push(record);
    this.committedTransactions++;
  }

  /** @internal Aborts every pending transaction of `job` not in `keep` (what a failed attempt left open). */
  abortOthers(job: string, keep: ReadonlySet<string>, attemptBelow: number, runId: string): void {
    for (const [id, txn] of this.#pending) {
      if (txn.job !== job || keep.has(id)) continue;
      if (id.startsWith(runId) && txn.attempt >= attemptBelow) continue;
      this.#pending.delete(id);
      this.abortedTransactions++;
    }
  }
}

interface CollectState {
  readonly transactions: string[];
}

/**
 * A sink that collects records in memory: for tests and notebooks. With checkpointing it is **transactional**:
 * records become visible in `target.records` only when the checkpoint that covers them completes, so duplicates or
 * losses across failures show up exactly. Without checkpointing records are visible as soon as they are written.
 *
 * @example
 * ```ts
 * const target = new CollectTarget<number>();
 * env.source(collection([1, 2, 3])).sink(collectSink(target));
 * // after the run: target.records deep-equals [1, 2, 3]
 * ```
 */
export function collectSink<T>(target: CollectTarget<T> = new CollectTarget<T>()): Sink<T> & { target: CollectTarget<T> } {
  // One id per sink instance and process: transaction ids of this run never collide with those of earlier runs.
  const runId = `run-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  return {
    name: 'collect',
    target,
    createWriter: (context) => new CollectWriter(target, context, runId),
  };
}

class CollectWriter<T> implements SinkWriter<T> {
  readonly #target: CollectTarget<T>;
  readonly #context: SinkWriterContext;
  readonly #runId: string;
  #buffer: T[] = [];
  /** Pre-committed transactions awaiting their checkpoint's completion: [checkpointId, transactionId]. */
  #prepared: Array<[number, string]> = [];

  constructor(target: CollectTarget<T>, context: SinkWriterContext, runId: string) {
    this.#target = target;
    this.#context = context;
    this.#runId = runId;
  }

  async start(): Promise<void> {
    const restored = new Set<string>();
    for (const state of (this.#context.restoredState ?? []) as CollectState[]) {
      for (const id of state.transactions) restored.add(id);
    }
    // Recover-and-commit: the restored checkpoint completed, so its pre-committed transactions must be committed.
    for (const id of restored) this.#target.commit(id);
    this.#target.abortOthers(this.#context.job, restored, this.#context.attempt, this.#runId);
  }

  write(records: readonly T[]): void {
    if (this.#context.checkpointing) {
      for (const record of records) this.#buffer.push(record);
    } else {
      for (const record of records) this.#target.records.push(record);
    }
  }

  async preCommit(checkpointId: number): Promise<CollectState> {
    const { job, subtask, attempt } = this.#context;
    const id = `${this.#runId}/${job}/${attempt}/${subtask}/${checkpointId}`;
    this.#target.prepare(id, job, attempt, this.#buffer);
    this.#buffer = [];
    this.#prepared.push([checkpointId, id]);
    return { transactions: this.#prepared.map(([, txn]) => txn) };
  }

  async commit(checkpointId: number): Promise<void> {
    const remaining: Array<[number, string]> = [];
    for (const entry of this.#prepared) {
      if (entry[0] <= checkpointId) this.#target.commit(entry[1]);
      else remaining.push(entry);
    }
    this.#prepared = remaining;
  }

  async finish(): Promise<void> {}

  async close(): Promise<void> {
    this.#buffer = [];
  }
}
