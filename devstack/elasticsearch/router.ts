import { methodNotAllowedBody, noHandlerBody } from './errors.ts';
import type { Handler } from './http-types.ts';

/**
 * Maps `METHOD /path` to a handler. Patterns are segment lists; `{index}` matches an index expression (any segment
 * not starting with `_`, plus `_all`), `{id}` any segment. A known path with a wrong method gets ES's 405 body,
 * an unknown path ES's 400 "no handler found" body.
 */
export interface Route {
  pattern: string[];
  methods: Partial<Record<string, Handler>>;
}

export type RouteMatch =
  | { found: true; handler: Handler; params: Record<string, string> }
  | { found: false; status: number; body: unknown };

export class Router {
  readonly #routes: Route[] = [];

  add(path: string, methods: Partial<Record<string, Handler>>): this {
    const pattern = path === '/' ? [] : path.slice(1).split('/');
    this.#routes.push({ pattern, methods });
    return this;
  }

  match(method: string, uri: string, segments: string[]): RouteMatch {
    let allowed: string[] | undefined;
    for (const route of this.#routes) {
      const params = matchPattern(route.pattern, segments);
      if (params === undefined) continue;
      const handler = route.methods[method];
      if (handler !== undefined) return { found: true, handler, params };
      allowed ??= Object.keys(route.methods);
    }
    if (allowed !== undefined) return { found: false, status: 405, body: methodNotAllowedBody(method, uri, allowed) };
    return { found: false, status: 400, body: noHandlerBody(method, uri) };
  }
}

function matchPattern(pattern: string[], segments: string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]!;
    const actual = segments[i]!;
    if (expected === '{index}') {
      if (actual === '' || (actual.startsWith('_') && actual !== '_all')) return undefined;
      params['index'] = actual;
    } else if (expected === '{id}') {
      if (actual === '') return undefined;
      params['id'] = actual;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}
