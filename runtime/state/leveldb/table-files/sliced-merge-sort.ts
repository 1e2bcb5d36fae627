import type { TimeSlicer } from '../../time-slicer.ts';

/** Entries put in order by insertion before the merge passes start. */
const RUN = 32;
/** Entries merged between two looks at the clock. */
const MERGED_PER_CHECK = 4096;

/**
 * The indices 0…n−1 in the order `compare` gives, stable (equal entries keep their index order): a bottom-up merge
 * sort that yields to the event loop as `slicer` says, so a key group of millions of keys sorts without holding the
 * thread for the whole sort (`Array.prototype.sort` cannot be sliced).
 * @internal
 */
export async function slicedMergeSort(n: number, compare: (a: number, b: number) => number, slicer: TimeSlicer): Promise<Int32Array> {
  let from = new Int32Array(n);
  let to = new Int32Array(n);
  for (let i = 0; i < n; i++) from[i] = i;
  // Short runs by insertion: stable, as an entry moves left only past greater ones.
  for (let start = 0; start < n; start += RUN) {
    const end = Math.min(start + RUN, n);
    for (let i = start + 1; i < end; i++) {
      const entry = from[i]!;
      let j = i - 1;
      while (j >= start && compare(from[j]!, entry) > 0) {
        from[j + 1] = from[j]!;
        j--;
      }
      from[j + 1] = entry;
    }
    if (start % MERGED_PER_CHECK === 0) await slicer.maybeYield();
  }
  for (let width = RUN; width < n; width *= 2) {
    let since = 0;
    for (let left = 0; left < n; left += 2 * width) {
      const middle = Math.min(left + width, n);
      const end = Math.min(left + 2 * width, n);
      let i = left;
      let j = middle;
      let k = left;
      // Ties take the left run's entry first: the merge is stable.
      while (i < middle && j < end) to[k++] = compare(from[i]!, from[j]!) <= 0 ? from[i++]! : from[j++]!;
      while (i < middle) to[k++] = from[i++]!;
      while (j < end) to[k++] = from[j++]!;
      since += end - left;
      if (since >= MERGED_PER_CHECK) {
        since = 0;
        await slicer.maybeYield();
      }
    }
    [from, to] = [to, from];
  }
  return from;
}
