/**
 * JSON for what keyed state holds, which JSON cannot write as it is: a `Map` (map state's value, or one inside a
 * value) as an object of its entries, a `Set` as an array, bytes (`Uint8Array`, `Buffer`) as a base64 string, a
 * bigint as its decimal string. Anything else as `JSON.stringify` writes it (a `Date` as its ISO string).
 *
 * @example
 * ```ts
 * stateJson({ state: 'perUrl', kind: 'map', key: 'u1', value: new Map([['/a', 2]]) });
 * // '{"state":"perUrl","kind":"map","key":"u1","value":{"/a":2}}'
 * ```
 */
export function stateJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Map) return Object.fromEntries(v);
    if (v instanceof Set) return [...v];
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    // Buffer.prototype.toJSON runs before the replacer: what it made is turned back into base64 here.
    if (isBufferJson(v)) return Buffer.from(v.data).toString('base64');
    return v;
  });
}

function isBufferJson(v: unknown): v is { type: 'Buffer'; data: number[] } {
  return typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data);
}
