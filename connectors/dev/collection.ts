import type { Source } from '../../runtime/api/index.ts';
import { datagen } from './datagen.ts';

/**
 * A bounded source over an in-memory array, split into `splits` contiguous ranges.
 *
 * @example
 * ```ts
 * env.source(collection(['to be or not to be', 'that is the question'], { splits: 2 }));
 * ```
 */
export function collection<T>(items: readonly T[], options: { splits?: number; batchSize?: number } = {}): Source<T> {
  const source = datagen<T>({
    record: (index) => items[index] as T,
    count: items.length,
    splits: options.splits ?? 1,
    ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
  });
  return { ...source, name: 'collection' };
}
