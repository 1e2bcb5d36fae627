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
 * The CLI's HTTP client for the service's REST API (docs/rest.md): JSON in, JSON out, the bearer token on every call.
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
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
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
    return parsed as T;
  }
}
