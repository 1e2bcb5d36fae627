import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logging/index.ts';
import { bearerCheck } from './auth.ts';
import type { ApiRequest, ApiResponse } from './rest-api.ts';
import { badRequest, toErrorResponse } from './service-errors.ts';

/** Largest request body accepted (a checkpoint backup travels as base64 JSON). */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  /** When set, every request needs `Authorization: Bearer <token>` (but for {@link openPaths}). */
  readonly token: string | undefined;
  /**
   * Paths served without the token: the dashboard's page and assets (they hold no data; the page asks for the token),
   * and `/metrics` when the service is started with `--metrics-auth none`.
   */
  readonly openPaths?: ReadonlySet<string> | undefined;
  readonly handle: (request: ApiRequest) => Promise<ApiResponse>;
  readonly logger: Logger;
}

/** A listening server and its base URL (`http://127.0.0.1:8081`, with the bound port when 0 was asked for). */
export interface ListeningServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * The service's HTTP layer on node:http: authenticates, parses JSON bodies, calls the API and writes JSON answers,
 * errors as `{ error: { code, message, problems? } }`.
 *
 * @example
 * ```ts
 * const { url, close } = await listen({ host: '127.0.0.1', port: 0, token: undefined, handle: restApi(supervisor), logger });
 * ```
 */
export async function listen(options: HttpServerOptions): Promise<ListeningServer> {
  const check = options.token === undefined ? undefined : bearerCheck(options.token);
  const server = createServer((req, res) => {
    void respond(req, res, options, check);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function respond(req: IncomingMessage, res: ServerResponse, options: HttpServerOptions, check: ((header: string | undefined) => void) | undefined): Promise<void> {
  const started = Date.now();
  let status = 500;
  let body: unknown;
  let contentType: string | undefined;
  let headers: Readonly<Record<string, string>> | undefined;
  try {
    const url = new URL(req.url ?? '/', 'http://service');
    if (options.openPaths?.has(url.pathname) !== true) check?.(req.headers.authorization);
    const text = await readBody(req);
    let parsed: unknown;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
      }
    }
    const answer = await options.handle({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body: parsed });
    status = answer.status;
    body = answer.body;
    contentType = answer.contentType;
    headers = answer.headers;
  } catch (err) {
    const error = toErrorResponse(err);
    status = error.status;
    body = error.body;
    if (status >= 500) options.logger.error({ err }, `request ${req.method} ${req.url} failed`);
  }
  const payload = contentType === undefined ? JSON.stringify(body) : String(body);
  res.writeHead(status, {
    ...headers,
    'content-type': contentType ?? 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...(status === 401 ? { 'www-authenticate': 'Bearer realm="sluice"' } : {}),
  });
  res.end(payload);
  options.logger.debug({ method: req.method, path: req.url?.split('?')[0], status, ms: Date.now() - started }, 'request');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw badRequest(`the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
