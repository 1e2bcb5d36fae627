import type { Logger } from '../../runtime/logging/index.ts';
import type { Cluster } from './cluster.ts';
import type { FaultPlan } from './faults.ts';

/** One parsed HTTP request, as handlers see it. */
export interface EsRequest {
  readonly method: string;
  /** The raw path (for error messages, as ES echoes it). */
  readonly uri: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: Buffer;
  readonly cluster: Cluster;
  readonly faults: FaultPlan;
  readonly logger: Logger;
}

/** What a handler answers: a status and a JSON-able body (omitted for HEAD-style answers). */
export interface EsReply {
  status: number;
  body?: unknown;
}

export type Handler = (request: EsRequest) => EsReply | Promise<EsReply>;
