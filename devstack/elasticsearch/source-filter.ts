import { EsError } from './errors.ts';

/**
 * `_source` filtering for GET and search: `_source=false`, `_source=a,b`, `_source_includes`, `_source_excludes`,
 * and the body forms `"_source": false | "a" | ["a","b"] | {"includes":[…],"excludes":[…]}`. Patterns are dotted
 * paths with `*` wildcards; an included object is kept whole (minus excludes).
 */
export type SourceFilter = ((source: Record<string, unknown>) => Record<string, unknown>) | false | undefined;

export function sourceFilterFromQuery(query: URLSearchParams): SourceFilter {
  const source = query.get('_source');
  const includes = query.get('_source_includes') ?? query.get('_source_include');
  const excludes = query.get('_source_excludes') ?? query.get('_source_exclude');
  if (source === 'false') return false;
  const include = [...split(source === 'true' ? null : source), ...split(includes)];
  return build(include, split(excludes));
}

export function sourceFilterFromBody(spec: unknown): SourceFilter {
  if (spec === undefined || spec === true) return undefined;
  if (spec === false) return false;
  if (typeof spec === 'string') return build([spec], []);
  if (Array.isArray(spec)) return build(spec.map(String), []);
  if (typeof spec === 'object' && spec !== null) {
    const { includes, include, excludes, exclude } = spec as Record<string, unknown>;
    return build(toList(includes ?? include), toList(excludes ?? exclude));
  }
  throw new EsError(400, { type: 'parsing_exception', reason: `[_source] unexpected value [${String(spec)}]` });
}

function toList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

function split(value: string | null): string[] {
  return value === null || value === '' ? [] : value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function build(includes: string[], excludes: string[]): SourceFilter {
  if (includes.length === 0 && excludes.length === 0) return undefined;
  const inc = includes.map(toRegex);
  const exc = excludes.map(toRegex);
  const filter = (value: Record<string, unknown>, prefix: string, included: boolean): Record<string, unknown> | undefined => {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      if (exc.some((r) => r.test(path))) continue;
      const here = included || inc.length === 0 || inc.some((r) => r.test(path));
      if (typeof child === 'object' && child !== null && !Array.isArray(child)) {
        const kept = filter(child as Record<string, unknown>, path, here);
        if (kept !== undefined && (here || Object.keys(kept).length > 0)) out[key] = kept;
      } else if (here) {
        out[key] = child;
      }
    }
    return out;
  };
  return (source) => filter(source, '', false) ?? {};
}

function toRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}
