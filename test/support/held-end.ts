// A source wrapper for tests that act on a running bounded job (rescale it, stop it): the job cannot finish before
// the test says so, however loaded the machine. Fixture job modules take it through a param (e.g. `holdEndUntil`).
import { existsSync } from 'node:fs';
import { END_OF_INPUT, type Source } from '../../runtime/api/index.ts';
import { wrapReaders } from './wrapped-source.ts';

/** `inner`, whose readers report their end of input only once the file `gate` exists (polling for it every 20 ms). */
export function endHeldUntil<T>(inner: Source<T>, gate: string): Source<T> {
  return wrapReaders(inner, (reader) => {
    let ended = false;
    return {
      poll: () => {
        if (!ended) {
          const batch = reader.poll();
          if (batch !== END_OF_INPUT) return batch;
          ended = true;
        }
        return existsSync(gate) ? END_OF_INPUT : null;
      },
      available: () => (ended ? new Promise<void>((resolve) => setTimeout(resolve, 20)) : reader.available()),
    };
  });
}
