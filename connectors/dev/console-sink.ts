import type { Sink } from '../../runtime/api/index.ts';

/**
 * Prints each record as one JSON line on stdout (at-least-once: replays after a failure print again).
 *
 * @example
 * ```ts
 * stream.sink(consoleSink({ prefix: 'counts' }));
 * ```
 */
export function consoleSink<T>(options: { prefix?: string; stream?: NodeJS.WritableStream } = {}): Sink<T> {
  const out = options.stream ?? process.stdout;
  const prefix = options.prefix === undefined ? '' : `${options.prefix}> `;
  return {
    name: 'console',
    createWriter: () => ({
      start: async () => {},
      write(records) {
        let text = '';
        for (const record of records) text += `${prefix}${JSON.stringify(record)}\n`;
        out.write(text);
      },
      preCommit: async () => undefined,
      commit: async () => {},
      finish: async () => {},
      close: async () => {},
    }),
  };
}
