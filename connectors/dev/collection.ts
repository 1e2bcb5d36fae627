import type { Source } from '../../runtime/api/index.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import { datagen } from './datagen.ts';

/**
 * A bounded source over an in-memory array (or any other iterable but a string, copied when the job is defined),
 * split into `splits` contiguous ranges.
 *
 * @example
 * ```ts
 * env.source(collection(['to be or not to be', 'that is the question'], { splits: 2 }));
 * ```
 */
export function collection<T>(items: readonly T[] | Iterable<T>, options: { splits?: number; batchSize?: number } = {}): Source<T> {
  const records = toArray(items);
  if (typeof options !== 'object' || options === null) {
    throw invalid(`collection options must be an object { splits?, batchSize? }, got ${describe(options)}`);
  }
  const source = datagen<T>({
    record: (index) => records[index] as T,
    count: records.length,
    splits: options.splits ?? 1,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
  });
  return { ...source, name: 'collection' };
}

function toArray<T>(items: readonly T[] | Iterable<T>): readonly T[] {
  if (Array.isArray(items)) return items;
  // A string is iterable, but a collection of its characters is never what was meant.
  if (typeof items !== 'string' && items !== null && typeof (items as Partial<Iterable<T>>)?.[Symbol.iterator] === 'function') {
    return Array.from(items as Iterable<T>);
  }
  throw invalid(`collection() takes an array of records, e.g. collection([{ user: 'ann' }, { user: 'bob' }]); got ${describe(items)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return `an object with keys ${Object.keys(value).slice(0, 5).join(', ') || '(none)'}`;
  return `${typeof value} ${String(value)}`;
}

function invalid(message: string): SluiceError {
  return new SluiceError('SLUICE_INVALID_OPTION', message, { retriable: false });
}
