// How far V8 lets the old generation grow past what survived the last full GC, for the long-running `sluice run` and
// `sluice start` processes.
//
// Why: a streaming job promotes almost every record to the old generation (records wait in fetch buffers, channels
// and in-flight bulk requests longer than two young-generation GCs), so the old generation fills with dead records at
// the pipeline's rate. V8's default growing factor (up to 4× the live set, tuned for pages and short scripts) then
// lets RSS climb to several times the live data before a full GC; measured with bench/kafka-to-elasticsearch.ts,
// 2M records into a slow Elasticsearch peaked at 287 MiB RSS with V8's default and 188 MiB with 30 %. The price
// is more full GCs: ~9 % of throughput on that job with large bulks, up to ~25 % with 1M keys of state (docs/cli.md,
// "Memory"); 0 restores V8's own heuristics.
//
// `--heap-growing-percent` is one of the few V8 heap flags read at every GC rather than once at start-up, so
// `v8.setFlagsFromString` takes effect in the running process (checked by test/runtime/cli/heap-growth.test.ts).
import { setFlagsFromString } from 'node:v8';
import { UsageError } from './usage-error.ts';

/** Default `--heap-growth` of `sluice run` and `sluice start`, in percent over the live set. */
export const DEFAULT_HEAP_GROWTH_PERCENT = 30;

/** The option's help lines, with descriptions starting at `column` to line up with the command's other options. */
export function heapGrowthUsage(column: number): string {
  const flag = '      --heap-growth <percent>'.padEnd(column);
  return `${flag}old-generation growth over the live set before a full GC (default: ${DEFAULT_HEAP_GROWTH_PERCENT};\n${' '.repeat(column)}0 = V8's default: faster, but RSS can reach several times the live data)`;
}

/**
 * Parses a `--heap-growth` value: an integer percent from 0 to 400, `undefined` meaning the default.
 *
 * @example
 * ```ts
 * applyHeapGrowth(parseHeapGrowth(values['heap-growth'], RUN_USAGE));
 * ```
 */
export function parseHeapGrowth(value: string | undefined, usage: string): number {
  if (value === undefined) return DEFAULT_HEAP_GROWTH_PERCENT;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 400) {
    throw new UsageError(`--heap-growth expects a percent from 0 to 400 (0 = V8's default), got "${value}"`, usage);
  }
  return n;
}

/**
 * Sets V8's old-generation growing factor to `1 + percent / 100` for this process; `0` leaves V8's default.
 *
 * @example
 * ```ts
 * applyHeapGrowth(30); // full GC once the old generation is 30 % above what survived the last one
 * ```
 */
export function applyHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
