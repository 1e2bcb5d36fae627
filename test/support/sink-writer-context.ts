import type { SinkWriterContext } from '../../runtime/api/index.ts';
import { silentLogger } from '../../runtime/logging/index.ts';
import { systemClock } from '../../runtime/time/index.ts';

/**
 * The context the runtime gives a sink writer, for tests that drive a writer directly: subtask 0 of 1, first attempt,
 * checkpointing, nothing restored, silent logs; `overrides` change any of it.
 *
 * @example
 * ```ts
 * const writer = kafkaSink(options).createWriter(sinkWriterContext({ job: 'orders', checkpointing: false }));
 * ```
 */
export function sinkWriterContext(overrides: Partial<SinkWriterContext> & Record<string, unknown> = {}): SinkWriterContext {
  return {
    job: 'sink-test',
    subtask: 0,
    parallelism: 1,
    attempt: 0,
    checkpointing: true,
    restoredState: undefined,
    logger: silentLogger(),
    clock: systemClock,
    signal: new AbortController().signal,
    ...overrides,
  };
}
