import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync, inflateSync } from 'node:zlib';
import type { Logger } from '../../runtime/logging/index.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import type { Cluster } from './cluster.ts';
import { EsError, rejectedExecution, serviceUnavailable } from './errors.ts';
import { FaultPlan } from './faults.ts';
import { applyFilterPath } from './filter-path.ts';
import type { EsReply, EsRequest } from './http-types.ts';
import type { Router } from './router.ts';

/**
 * The HTTP side: a node:http server that reads whole bodies, applies the fault plan, dispatches through the router
 * and writes JSON with the headers @elastic/elasticsearch checks (`x-elastic-product` on every answer, 2xx and
 * HEAD included, else the client throws ProductNotSupportedError).
 */

const PRODUCT_HEADERS = { 'x-elastic-product': 'Elasticsearch' } as const;

export class EsHttpServer {
  readonly faults: FaultPlan;
  readonly #cluster: Cluster;
  readonly #router: Router;
  readonly #logger: Logger;
  readonly #sockets = new Set<Socket>();
  #server: Server;
  #host = '127.0.0.1';
  #port = 0;
  #resetting = false;
  #closed = false;
  #outageTimer: NodeJS.Timeout | undefined;
  #outageDone: Promise<void> = Promise.resolve();

  constructor(cluster: Cluster, router: Router, logger: Logger) {
    this.#cluster = cluster;
    this.#router = router;
    this.#logger = logger;
    this.faults = new FaultPlan(Date.now, (ms, mode) => this.#outage(ms, mode));
    this.#server = this.#createServer();
  }

  #createServer(): Server {
    const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      void this.#handle(req, res);
    });
    server.on('connection', (socket: Socket) => {
      if (this.#resetting) {
        this.faults.countRefusedConnection();
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    return server;
  }

  async listen(host: string, port: number): Promise<number> {
    await listenOn(this.#server, host, port);
    this.#host = host;
    this.#port = (this.#server.address() as { port: number }).port;
    return this.#port;
  }

  async #outage(ms: number, mode: 'refuse' | 'reset'): Promise<void> {
    if (this.#closed) throw new SluiceError('SLUICE_DEVSTACK_CLOSED', 'faults.refuseConnections on a closed devstack Elasticsearch server');
    await this.#outageDone;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (mode === 'reset') {
      this.#resetting = true;
      this.#outageDone = new Promise((resolve) => {
        this.#outageTimer = setTimeout(() => {
          this.#resetting = false;
          resolve();
        }, ms);
      });
      return;
    }
    const old = this.#server;
    await new Promise<void>((resolve) => old.close(() => resolve()));
    this.#outageDone = new Promise((resolve) => {
      this.#outageTimer = setTimeout(() => {
        if (this.#closed) {
          resolve();
          return;
        }
        this.#server = this.#createServer();
        listenOn(this.#server, this.#host, this.#port).then(resolve, (err: unknown) => {
          this.#logger.error({ err, port: this.#port }, 'devstack elasticsearch could not listen again after a connection outage');
          resolve();
        });
      }, ms);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#outageTimer !== undefined) clearTimeout(this.#outageTimer);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://devstack');
    const method = (req.method ?? 'GET').toUpperCase();
    let reply: EsReply;
    try {
      const body = await readBody(req);
      const segments = url.pathname === '/' ? [] : url.pathname.replace(/\/+$/, '').slice(1).split('/').map(decodeSegment);
      const isBulk = segments[segments.length - 1] === '_bulk';
      const delay = this.faults.delayFor(isBulk);
      if (delay > 0) await sleep(delay);
      const fault = this.faults.requestFault(isBulk);
      if (fault === 503) throw serviceUnavailable();
      if (fault === 429) throw new EsError(429, rejectedExecution('coordinating operation [injected whole-request rejection]'));
      const match = this.#router.match(method, url.pathname, segments);
      if (!match.found) {
        reply = { status: match.status, body: match.body };
      } else {
        const request: EsRequest = {
          method, uri: url.pathname, params: match.params, query: url.searchParams, body,
          cluster: this.#cluster, faults: this.faults, logger: this.#logger,
        };
        reply = await match.handler(request);
      }
    } catch (err) {
      reply = toReply(err, this.#logger);
    } finally {
      // Operations are appended to the index logs before the answer, so an acknowledged write survives close.
      this.#cluster.flushLogs();
    }
    this.#send(res, method, reply, url.searchParams);
    this.#logger.trace({ method, path: url.pathname, status: reply.status, ms: performance.now() - started }, 'devstack elasticsearch request');
  }

  #send(res: ServerResponse, method: string, reply: EsReply, query: URLSearchParams): void {
    if (res.destroyed) return;
    if (reply.body === undefined || method === 'HEAD') {
      res.writeHead(reply.status, { ...PRODUCT_HEADERS, 'content-length': '0' });
      res.end();
      return;
    }
    let body: unknown = reply.body;
    const filterPath = query.get('filter_path');
    if (filterPath !== null && filterPath !== '' && typeof body === 'object' && body !== null) body = applyFilterPath(body, filterPath);
    const pretty = query.has('pretty') && query.get('pretty') !== 'false';
    const text = pretty ? `${JSON.stringify(body, null, 2)}\n` : JSON.stringify(body);
    res.writeHead(reply.status, {
      ...PRODUCT_HEADERS,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }
}

function toReply(err: unknown, logger: Logger): EsReply {
  if (err instanceof EsError) return { status: err.status, body: err.body() };
  logger.error({ err }, 'devstack elasticsearch handler failed');
  const reason = err instanceof Error ? err.message : String(err);
  return {
    status: 500,
    body: { error: { root_cause: [{ type: 'exception', reason }], type: 'exception', reason }, status: 500 },
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding.includes('gzip')) return gunzipSync(raw);
  if (encoding.includes('deflate')) return inflateSync(raw);
  return raw;
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new SluiceError('SLUICE_DEVSTACK_LISTEN_FAILED',
      `the devstack Elasticsearch server cannot listen on ${host}:${port}: ${err.message}; choose another port or 0`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
