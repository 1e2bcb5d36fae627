/**
 * What records and keyed state can hold, said once for the errors that refuse the rest (docs/jobs.md, "What records
 * and state can hold"). msgpack (msgpackr, runtime/serde/msgpackr.ts) writes them for checkpoints and for records
 * that cross threads.
 */
export const PLAIN_DATA =
  'plain data: objects, arrays, strings, numbers, booleans, null, undefined, Map, Set, Date, bigint, RegExp, Error, ' +
  'Buffer and typed arrays (class instances come back as plain objects, functions as undefined)';

/**
 * Where in `value` the first thing msgpack cannot write sits, as a path (`value.tags[2]`), or `undefined` when none
 * is found: a symbol, as a value or a `Map` key. Cycles and depths past 64 are not followed. Used only once packing
 * failed, to tell the user where to look.
 *
 * @example
 * ```ts
 * whereUnserializable({ user: 'u1', tag: Symbol('vip') }, 'record'); // 'record.tag'
 * ```
 */
export function whereUnserializable(value: unknown, path: string): string | undefined {
  try {
    return walk(value, path, new Set(), 0);
  } catch {
    return undefined; // a getter that throws: the error still says what failed, only not where
  }
}

function walk(value: unknown, path: string, seen: Set<object>, depth: number): string | undefined {
  if (typeof value === 'symbol') return path;
  if (typeof value !== 'object' || value === null || seen.has(value) || depth > 64) return undefined;
  seen.add(value);
  if (value instanceof Map) {
    for (const [key, item] of value) {
      if (typeof key === 'symbol') return `${path} (a Map key)`;
      const found = walk(item, `${path}.get(${JSON.stringify(key) ?? String(key)})`, seen, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value instanceof Set) {
    let i = 0;
    for (const item of value) {
      const found = walk(item, `${path} (Set element ${i++})`, seen, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = walk(value[i], `${path}[${i}]`, seen, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const found = walk(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, seen, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Where the errors that refuse a value send the user. */
export const VALUES_DOC = '(docs/jobs.md, "What records and state can hold")';

/**
 * What a failed pack says, with where the culprit sits in the first of `values` that holds one:
 * `Unknown type: symbol at the record.tag` (msgpackr's message, then {@link whereUnserializable}'s path).
 */
export function packFailure(cause: unknown, values: readonly unknown[], label: string): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  for (const value of values) {
    const where = whereUnserializable(value, label);
    if (where !== undefined) return `${message} at ${where}`;
  }
  return message;
}
