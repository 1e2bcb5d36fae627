/**
 * `?filter_path=` response filtering: comma-separated dotted paths, `*` inside a key, `**` for any depth, a
 * leading `-` to exclude. Arrays are transparent. What matches nothing is dropped, and a body where nothing
 * matched becomes `{}`, as on a real node.
 */
export function applyFilterPath(body: unknown, filterPath: string): unknown {
  const includes: string[][] = [];
  const excludes: string[][] = [];
  for (const raw of filterPath.split(',')) {
    const expression = raw.trim();
    if (expression === '') continue;
    if (expression.startsWith('-')) excludes.push(expression.slice(1).split('.'));
    else includes.push(expression.split('.'));
  }
  let out = body;
  if (includes.length > 0) out = include(out, includes) ?? {};
  if (excludes.length > 0) out = exclude(out, excludes) ?? {};
  return out;
}

function matches(pattern: string, key: string): boolean {
  if (pattern === '*' || pattern === key) return true;
  if (!pattern.includes('*')) return false;
  const regex = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return regex.test(key);
}

/** The patterns that remain after descending into `key`; an empty pattern means "matched completely". */
function advance(patterns: string[][], key: string): string[][] {
  const next: string[][] = [];
  for (const p of patterns) {
    if (p[0] === '**') {
      next.push(p);
      next.push(...advance([p.slice(1)], key));
      if (p.length === 1) next.push([]);
    } else if (p.length > 0 && matches(p[0]!, key)) {
      next.push(p.slice(1));
    }
  }
  return next;
}

function include(value: unknown, patterns: string[][]): unknown {
  if (patterns.some((p) => p.length === 0)) return value;
  if (Array.isArray(value)) {
    const kept = value.map((v) => include(v, patterns)).filter((v) => v !== undefined);
    return kept.length === 0 ? undefined : kept;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const next = advance(patterns, key);
    if (next.length === 0) continue;
    const kept = include(child, next);
    if (kept !== undefined) out[key] = kept;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function exclude(value: unknown, patterns: string[][]): unknown {
  if (Array.isArray(value)) return value.map((v) => exclude(v, patterns));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const next = advance(patterns, key);
    if (next.some((p) => p.length === 0)) continue;
    out[key] = next.length === 0 ? child : exclude(child, next);
  }
  return out;
}
