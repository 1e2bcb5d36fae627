import type { Sink } from '../../runtime/api/index.ts';

/** A sink that counts and drops records: benchmarks measure the pipeline, not an external system. */
export function discardSink<T>(counter: { count: number }): Sink<T> {
  return {
    name: 'discard',
    createWriter: () => ({
      start: async () => {},
      write(records) {
        counter.count += records.length;
      },
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async () => {},
    }),
  };
}
