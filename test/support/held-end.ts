// A source wrapper for tests that act on a running bounded job (rescale it, stop it): the job cannot finish before
// the test says so, however loaded the machine. Fixture job modules take it through a param (e.g. `holdEndUntil`).
import { existsSync } from 'node:fs';
import { END_OF_INPUT, type SplitLag, type Source } from '../../runtime/api/index.ts';

/** `inner`, whose readers report their end of input only once the file `gate` exists (polling for it every 20 ms). */
export function endHeldUntil<T>(inner: Source<T>, gate: string): Source<T> {
  return {
    ...inner,
    createReader(context) {
      const reader = inner.createReader(context);
      let ended = false;
      return {
        start: () => reader.start(),
        poll: () => {
          if (ended) return existsSync(gate) ? END_OF_INPUT : null;
          const batch = reader.poll();
          if (batch !== END_OF_INPUT) return batch;
          ended = true;
          return existsSync(gate) ? END_OF_INPUT : null;
        },
        available: () => (ended ? new Promise<void>((resolve) => setTimeout(resolve, 20)) : reader.available()),
        positions: () => reader.positions(),
        close: () => reader.close(),
        // The optional parts too: without polledSplit, event time would keep one watermark over all splits.
        ...(reader.polledSplit === undefined ? {} : { polledSplit: () => (reader.polledSplit as () => string)() }),
        ...(reader.lag === undefined ? {} : { lag: () => (reader.lag as () => SplitLag[])() }),
        ...(reader.snapshotState === undefined ? {} : { snapshotState: (id: number) => (reader.snapshotState as (id: number) => Promise<unknown>)(id) }),
        ...(reader.notifyCheckpointComplete === undefined ? {} : { notifyCheckpointComplete: (id: number) => (reader.notifyCheckpointComplete as (id: number) => Promise<void>)(id) }),
      };
    },
  };
}

