import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { SluiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import { bearerCheck } from './auth.ts';
import { UPLOAD_ROUTE, type ApiRequest, type ApiResponse, type Download } from './rest-api.ts';
import { ServiceErrorCodes, badRequest, toErrorResponse } from './service-errors.ts';

/** Largest JSON request body accepted (a checkpoint backup document carries base64; exports go as uploads, unbounded). */
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
 * errors as `{ error: { code, message, problems? } }`. Checkpoint exports travel unparsed both ways: an
 * `application/octet-stream` upload is handed to its route as a stream ({@link UPLOAD_ROUTE}), a download is piped.
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
  let download: Download | undefined;
  try {
    const url = new URL(req.url ?? '/', 'http://service');
    if (options.openPaths?.has(url.pathname) !== true) check?.(req.headers.authorization);
    const binary = isOctetStream(req.headers['content-type']);
    const request = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams };
    let answer: ApiResponse;
    if (request.method === 'POST' && UPLOAD_ROUTE.test(url.pathname)) {
      if (!binary) {
        throw new SluiceError(
          ServiceErrorCodes.unsupportedMediaType,
          `${url.pathname} takes a checkpoint export as its body, sent as application/octet-stream (\`sluice checkpoint restore <job> --input <file>\` sends one); a backup document goes to checkpoints/restore`,
        );
      }
      answer = await options.handle({ ...request, body: undefined, upload: req });
    } else {
      if (binary) {
        throw new SluiceError(ServiceErrorCodes.unsupportedMediaType, `${request.method} ${url.pathname} takes JSON, not application/octet-stream: only POST /v1/jobs/{name}/checkpoints/import takes a binary body`);
      }
      answer = await options.handle({ ...request, body: parseJson(await readBody(req)) });
    }
    status = answer.status;
    body = answer.body;
    contentType = answer.contentType;
    headers = answer.headers;
    download = answer.download;
  } catch (err) {
    const error = toErrorResponse(err);
    status = error.status;
    body = error.body;
    if (status >= 500) options.logger.error({ err }, `request ${req.method} ${req.url} failed`);
  }
  if (download !== undefined) {
    await sendDownload(res, status, download, contentType, headers, options.logger);
    options.logger.debug({ method: req.method, path: req.url?.split('?')[0], status, bytes: download.size, ms: Date.now() - started }, 'request');
    return;
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

/**
 * Streams a binary answer, then releases it (whether or not the client took all of it). A failure mid-stream cuts the
 * connection: the client sees fewer bytes than `content-length` said, never a short file it could take as whole.
 */
async function sendDownload(
  res: ServerResponse,
  status: number,
  download: Download,
  contentType: string | undefined,
  headers: Readonly<Record<string, string>> | undefined,
  logger: Logger,
): Promise<void> {
  try {
    res.writeHead(status, { ...headers, 'content-type': contentType ?? 'application/octet-stream', 'content-length': download.size });
    await pipeline(download.open(), res);
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'a download ended early');
    res.destroy();
  } finally {
    await download.release().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not release a download'));
  }
}

function isOctetStream(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.split(';')[0]!.trim().toLowerCase() === 'application/octet-stream';
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
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
