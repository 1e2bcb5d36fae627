// Test sources that change how a source's readers poll (hold back the end, report split changes) while forwarding
// everything else, the optional parts included: a wrapper that drops `polledSplit` silently changes event time (one
// watermark over all of a reader's splits), one that drops `snapshotState` loses reader state.
import type { Source, SourceReader, SourceReaderContext } from '../../runtime/api/index.ts';

/** What a wrapper replaces of a reader; the rest is the reader's own. */
export type ReaderOverrides<T> = Partial<Pick<SourceReader<T>, 'poll' | 'available' | 'notifyCheckpointComplete'>>;

/** `inner`, each of whose readers gets the overrides `wrap` returns for it. */
export function wrapReaders<T>(inner: Source<T>, wrap: (reader: SourceReader<T>, context: SourceReaderContext) => ReaderOverrides<T>): Source<T> {
  return {
    ...inner,
    createReader(context) {
      const reader = inner.createReader(context);
      const overrides = wrap(reader, context);
      return {
        start: () => reader.start(),
        poll: overrides.poll ?? (() => reader.poll()),
        available: overrides.available ?? (() => reader.available()),
        positions: () => reader.positions(),
        close: () => reader.close(),
        ...(reader.polledSplit === undefined ? {} : { polledSplit: () => reader.polledSplit!() }),
        ...(reader.lag === undefined ? {} : { lag: () => reader.lag!() }),
        ...(reader.snapshotState === undefined ? {} : { snapshotState: (id: number) => reader.snapshotState!(id) }),
        ...(overrides.notifyCheckpointComplete !== undefined
          ? { notifyCheckpointComplete: overrides.notifyCheckpointComplete }
          : reader.notifyCheckpointComplete === undefined
            ? {}
            : { notifyCheckpointComplete: (id: number) => reader.notifyCheckpointComplete!(id) }),
        ...(reader.pauseSplits === undefined ? {} : { pauseSplits: (splits: ReadonlySet<string>) => reader.pauseSplits!(splits) }),
      };
    },
  };
}
