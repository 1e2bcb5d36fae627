/**
 * Decoding a key group's chain chunk by chunk, as restores and the checkpoint coordinator's chain merges do
 * (`decodeKeyGroupBlob`, which yields between chunks), with the plain-JavaScript msgpackr Sluice decodes state with,
 * against the same loop with msgpackr's native string extractor (runtime/serde/msgpackr.ts says why they differ).
 * Chains of 1, 8 and 64 chunks of 4,096 pairs of a string key and a `{ key, n }` value (a keyed count's state).
 *
 * Figures: ns per pair, baseline: the same chunk-by-chunk decode with the extractor (what Sluice did before); median
 * of 7 interleaved rounds.
 *
 * Run: `npx tsx bench/state-chain-decode.ts`.
 */
import { decodeKeyGroupBlob, newStateChunk, packChunk, packHeader, SNAPSHOT_PACKR_OPTIONS } from '../runtime/state/keyed-snapshot-format.ts';
import { concatBytes } from '../runtime/state/snapshots/backend-state.ts';
import { accelerated } from '../runtime/serde/msgpackr.ts';
import { emitFigure, median } from './support/figure.ts';

const PAIRS_PER_CHUNK = 4096;
const ROUNDS = 7;
// The format's own settings: the same bytes decode to the same values either way.
const withExtractor = new (accelerated().Packr)({ ...SNAPSHOT_PACKR_OPTIONS });

function chain(chunks: number): Uint8Array {
  const parts: Uint8Array[] = [packHeader(7)];
  for (let c = 0; c < chunks; c++) {
    const chunk = newStateChunk('count', 'value');
    for (let i = 0; i < PAIRS_PER_CHUNK; i++) chunk.push(`user-${(c * PAIRS_PER_CHUNK + i) * 7919}`, { key: `user-${i}`, n: i % 50 });
    parts.push(packChunk(chunk));
  }
  return concatBytes(parts);
}

/** The old loop: one `unpackMultiple` per value over the rest of the chain, stopped after that value. */
function decodeWithExtractor(blob: Uint8Array): number {
  let offset = 0;
  let values = 0;
  while (offset < blob.length) {
    let end = -1;
    withExtractor.unpackMultiple(blob.subarray(offset) as Buffer, (_value: unknown, _start?: number, stop?: number) => {
      end = stop ?? -1;
      return false;
    });
    if (end <= 0) throw new Error('cannot find the end of a value');
    offset += end;
    values++;
  }
  return values;
}

/** What Sluice runs: each chunk decoded, used and dropped before the next (as a restore applies it). */
function decodePlain(blob: Uint8Array): number {
  let values = 0;
  for (const chunk of decodeKeyGroupBlob(7, blob)) if (chunk.type === 'state') values++;
  return values;
}

function nsPerPair(run: () => unknown, pairs: number): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / pairs;
}

// Warm both paths up first: the first figure would otherwise carry the compilation of both decoders.
for (let i = 0; i < 3; i++) {
  const blob = chain(8);
  decodePlain(blob);
  decodeWithExtractor(blob);
}
for (const chunks of [1, 8, 64]) {
  const blob = chain(chunks);
  const pairs = chunks * PAIRS_PER_CHUNK;
  const plain: number[] = [];
  const extracted: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    plain.push(nsPerPair(() => decodePlain(blob), pairs));
    extracted.push(nsPerPair(() => decodeWithExtractor(blob), pairs));
  }
  emitFigure({
    name: `state/chain decode, ${chunks} chunk${chunks === 1 ? '' : 's'} of ${PAIRS_PER_CHUNK} pairs`,
    value: median(plain),
    unit: 'ns/pair',
    baseline: median(extracted),
    note: `baseline: the same chunk-by-chunk decode with msgpackr's native string extractor${accelerated().isNativeAccelerationEnabled ? '' : ' (not loaded on this machine: both plain JavaScript)'}; median of ${ROUNDS} rounds`,
  });
}
