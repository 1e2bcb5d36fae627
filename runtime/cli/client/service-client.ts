import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { SluiceError } from '../../errors/index.ts';

/** Default service address of every client verb (`--url` / `SLUICE_URL` override it). */
export const DEFAULT_SERVICE_URL = 'http://127.0.0.1:8081';

/**
 * An error answer of the service, or no answer at all. `exitCode` is what the CLI exits with: 2 when the request or
 * the job file it named is wrong (HTTP 400), 1 for everything else.
 */
export class ServiceRequestError extends SluiceError {
  readonly status: number | undefined;
  readonly problems: readonly string[];
  readonly exitCode: 1 | 2;

  constructor(code: `SLUICE_${string}`, message: string, options: { status?: number; problems?: readonly string[]; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'ServiceRequestError';
    this.status = options.status;
    this.problems = options.problems ?? [];
    this.exitCode = options.status === 400 ? 2 : 1;
  }
}

/**
 * The CLI's HTTP client for the service's REST API (docs/rest.md): JSON in, JSON out (checkpoint exports as bytes,
 * streamed), the bearer token on every call.
 *
 * @example
 * ```ts
 * const client = new ServiceClient({ url: 'http://127.0.0.1:8081', token: process.env.SLUICE_TOKEN });
 * const { jobs } = await client.request<{ jobs: unknown[] }>('GET', '/v1/jobs');
 * ```
 */
export class ServiceClient {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(options: { url: string; token?: string | undefined }) {
    this.url = options.url.replace(/\/+$/, '');
    this.#token = options.token === '' ? undefined : options.token;
  }

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const response = await this.#send(path, {
      method,
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await this.#json(response)) as T;
  }

  /**
   * `GET path`, a binary answer (a checkpoint export) streamed into `into` (which it ends); its headers are returned.
   * An error answer (JSON) throws as {@link request} does, before anything is written.
   */
  async download(path: string, into: Writable): Promise<Headers> {
    const response = await this.#send(path, { method: 'GET', headers: { accept: 'application/octet-stream, application/json' } });
    if (!response.ok) await this.#json(response); // throws the service's error
    if (response.body === null) throw new ServiceRequestError('SLUICE_SERVICE_BAD_RESPONSE', `${this.url}${path} answered without a body: is it a sluice service?`, { status: response.status });
    try {
      await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), into);
    } catch (err) {
      throw new ServiceRequestError('SLUICE_DOWNLOAD_FAILED', `copying the answer of ${this.url}${path} failed (${(err as Error).message}): check the free space where it is written, and try again`, { cause: err });
    }
    return response.headers;
  }

  /** `POST path` with a binary body (a checkpoint export: a file's stream, or bytes), answered in JSON. */
  async upload<T>(path: string, body: Readable | Uint8Array): Promise<T> {
    const response = await this.#send(path, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/octet-stream' },
      body: body instanceof Uint8Array ? body : (Readable.toWeb(body) as ReadableStream<Uint8Array>),
      // A streamed request body needs this in Node's fetch (the answer may come before the body is all sent).
      ...(body instanceof Uint8Array ? {} : { duplex: 'half' }),
    } as RequestInit);
    return (await this.#json(response)) as T;
  }

  async #send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }) },
        // Savepoints, rescales and stops take as long as they take; the spinner shows that they are under way.
        signal: AbortSignal.timeout(30 * 60 * 1000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ServiceRequestError(
        'SLUICE_SERVICE_UNREACHABLE',
        `cannot reach the sluice service at ${this.url} (${reason}): start it with \`sluice start\`, or point --url / SLUICE_URL at the running service`,
        { cause: err },
      );
    }
  }

  /** The JSON answer, or the service's error in it thrown as a {@link ServiceRequestError}. */
  async #json(response: Response): Promise<unknown> {
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ServiceRequestError('SLUICE_SERVICE_BAD_RESPONSE', `${this.url} answered ${response.status} with something that is not JSON: is it a sluice service?`, { status: response.status });
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; problems?: string[] } } | undefined)?.error;
      const code = typeof error?.code === 'string' && error.code.startsWith('SLUICE_') ? (error.code as `SLUICE_${string}`) : 'SLUICE_SERVICE_ERROR';
      throw new ServiceRequestError(code, error?.message ?? `${this.url} answered ${response.status}`, {
        status: response.status,
        ...(Array.isArray(error?.problems) ? { problems: error.problems } : {}),
      });
    }
    return parsed;
  }
}
