import { readFile } from 'node:fs/promises';
import type { ApiRequest, ApiResponse } from '../service/rest-api.ts';

/** The dashboard's files: the page at `/`, its script and styles under `/ui/`. */
const FILES: Readonly<Record<string, { readonly file: string; readonly contentType: string }>> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  '/ui/style.css': { file: 'style.css', contentType: 'text/css; charset=utf-8' },
};

/** Paths the dashboard serves; they hold no job data, so they are served without the token (the page asks for it). */
export const DASHBOARD_PATHS: ReadonlySet<string> = new Set(Object.keys(FILES));

/**
 * Everything from this origin only: no inline script, no CDN, no framing (a control click cannot be hijacked by a
 * page that frames the dashboard).
 */
const HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Revalidated on every load, so a new version of Sluice never runs an old script.
  'cache-control': 'no-cache',
};

/**
 * The web dashboard's HTTP route (docs/observability.md): `GET /` and its assets, read once from the package's
 * `static/` folder; `undefined` for any other path. The page reads the REST API (`/v1`) from the same origin.
 *
 * @example
 * ```ts
 * const dashboard = dashboardRoute();
 * listen({ ..., handle: (request) => dashboard(request) ?? api(request) });
 * ```
 */
export function dashboardRoute(): (request: ApiRequest) => Promise<ApiResponse> | undefined {
  const cache = new Map<string, Promise<string>>();
  const read = (file: string): Promise<string> => {
    let text = cache.get(file);
    if (text === undefined) {
      text = readFile(new URL(`./static/${file}`, import.meta.url), 'utf8');
      cache.set(file, text);
      text.catch(() => cache.delete(file));
    }
    return text;
  };
  return (request) => {
    const served = FILES[request.path];
    if (served === undefined) return undefined;
    if (request.method !== 'GET') {
      return Promise.resolve({ status: 405, body: { error: { code: 'SLUICE_METHOD_NOT_ALLOWED', message: `${request.path} is a dashboard page: only GET is served` } } });
    }
    return read(served.file).then((body) => ({ status: 200, body, contentType: served.contentType, headers: HEADERS }));
  };
}
