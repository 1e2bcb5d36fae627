/**
 * The two msgpackr instances Sluice uses. Every other runtime file takes msgpackr from here, never from `'msgpackr'`.
 *
 * msgpackr's Node entry (`import 'msgpackr'`) installs the native string extractor of `msgpackr-extract` into the one
 * decoder module that every ES import of msgpackr shares. The extractor reads up to 255 strings (or runs of short
 * strings, up to 6,000 bytes each) ahead of the decoder in one native call, to the end of the source. That pays where
 * a source is decoded whole, and costs where a large source is decoded one value at a time: a checkpoint's key-group
 * chain is decoded chunk by chunk (`decodeKeyGroupBlob`, so restores and merges can yield between chunks), and each
 * chunk's decode extracted strings far past the chunk, then threw them away. `npx tsx bench/state-chain-decode.ts`
 * (pairs of a string key and a `{ key, n }` value): a chain of 64 chunks 274 ns a pair with the extractor against 91
 * without it, 8 chunks 209 against 87, one chunk 65 against 86.
 *
 * - **Pure JavaScript** ({@link Packr}, {@link Unpackr}, {@link unpack}): state, checkpoints, manifests, cluster
 *   records. `'msgpackr/pack'` resolves, under Node's `import` condition, to msgpackr's plain `index.js`, which never
 *   installs the extractor. (Should other code in the process import `'msgpackr'` itself, these decode with the
 *   extractor again: the same bytes, only slower.)
 * - **Native-accelerated** ({@link accelerated}): the exchange between threads, which decodes each record batch whole.
 *   msgpackr's CommonJS build is a module instance of its own, with the extractor installed when `msgpackr-extract`
 *   loads (an optional dependency: plain JavaScript without it). Loaded on first use (~15 ms): a process that never
 *   sends records across threads (`--workers 0`, most CLI commands) does not pay for it; worker threads preload it
 *   while they boot ({@link ACCELERATED_URL}).
 *
 * @example
 * ```ts
 * import { Packr, accelerated } from '../serde/msgpackr.ts';
 * const snapshotPackr = new Packr({ moreTypes: true });
 * const batchUnpackr = new (accelerated().Unpackr)({ useRecords: true, sequential: true });
 * ```
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export { Packr, Unpackr, unpack } from 'msgpackr/pack';

const require = createRequire(import.meta.url);

/** The file URL of msgpackr's CommonJS build: importing it loads the instance {@link accelerated} returns. */
export const ACCELERATED_URL = pathToFileURL(require.resolve('msgpackr')).href;

let acceleratedMsgpackr: typeof import('msgpackr') | undefined;

/** msgpackr's CommonJS build, with the native string extractor when it loads: for sources decoded whole. */
export function accelerated(): typeof import('msgpackr') {
  return (acceleratedMsgpackr ??= require('msgpackr') as typeof import('msgpackr'));
}
