import type { Sink, SinkWriter } from '../../runtime/api/index.ts';

/** Where a {@link withSinkFaults} wrapper fails; each predicate is asked once per checkpoint and subtask. */
export interface SinkFaults {
  /** Throw after the inner pre-commit of checkpoint `id`: flushed, but the barrier is never acknowledged. */
  readonly preCommit?: (id: number) => boolean;
  /** Throw before the inner commit of checkpoint `id`: the checkpoint is durable, its transactions still open. */
  readonly commit?: (id: number) => boolean;
  /** Close as if the process died: `finished` only disconnects, so what is open stays open, as after kill -9. */
  readonly crashOnClose?: boolean;
}

/**
 * Wraps a sink so tests can inject failures at the two points of the two-phase protocol that matter for
 * exactly-once. Error messages contain `injected failure` (see `injected-failures.ts`).
 *
 * @example
 * ```ts
 * const sink = withSinkFaults(collectSink(target), { preCommit: () => random() < 0.2 });
 * ```
 */
export function withSinkFaults<T>(inner: Sink<T>, faults: SinkFaults): Sink<T> {
  return {
    name: inner.name,
    createWriter(context): SinkWriter<T> {
      const writer = inner.createWriter(context);
      return {
        start: () => writer.start(),
        write: (records) => writer.write(records),
        preCommit: async (id) => {
          const state = await writer.preCommit(id);
          if (faults.preCommit?.(id) === true) throw new Error(`injected failure after pre-commit of checkpoint ${id}`);
          return state;
        },
        commit: async (id) => {
          if (faults.commit?.(id) === true) throw new Error(`injected failure before commit of checkpoint ${id}`);
          await writer.commit(id);
        },
        finish: () => writer.finish(),
        close: (outcome) => writer.close(faults.crashOnClose === true ? 'finished' : outcome),
      };
    },
  };
}
