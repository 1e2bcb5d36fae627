import { SluiceError } from '../../errors/index.ts';

/**
 * GroupMembership's errors and retry policy: its error codes and messages, what it does with each error of the group
 * protocol, the backoff, when to warn that no broker answers. The error types and names are kafkajs 2.2.4's
 * (kafkajs/src/protocol/error.js, kafkajs/src/errors.js); the reactions are those of Kafka's own AbstractCoordinator,
 * which kafkajs's consumer only partly follows (it rejoins on ILLEGAL_GENERATION keeping its member id, and gives up
 * after its retries where a cluster member must keep trying).
 */

/** Codes of the errors GroupMembership hands to `onLost`, rejects `start()` with, or logs. */
export const GroupMembershipErrorCode = {
  /** No heartbeat succeeded for a whole session timeout: the coordinator has dropped this member by now. */
  sessionExpired: 'SLUICE_GROUP_SESSION_EXPIRED',
  /** The coordinator no longer knows this member or its generation (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION). */
  fenced: 'SLUICE_GROUP_MEMBER_FENCED',
  /** Retrying cannot help: an invalid session timeout, another protocol type on the group id, missing ACLs. */
  fatal: 'SLUICE_GROUP_FATAL',
  /** `leave()` ran before the first assignment: `start()` rejects with this. */
  left: 'SLUICE_GROUP_LEFT',
  /** `metadata`, `assign` or `onAssigned` threw (logged; the member rejoins after a backoff). */
  callback: 'SLUICE_GROUP_CALLBACK_FAILED',
} as const;

/**
 * - `rejoin`: the group is rebalancing; send JoinGroup again with the same member id, now.
 * - `fenced`: the member id or generation is gone; the assignment is lost, join as a new member.
 * - `memberIdRequired`: JoinGroup v4+ handed out a member id to join with (kafkajs normally does this itself).
 * - `coordinator`: the coordinator moved, is loading, or cannot be reached; find it again after a backoff.
 * - `fatal`: retrying cannot succeed; stop and tell the caller.
 * - `retry`: anything else; back off and try again.
 */
export type GroupErrorAction = 'rejoin' | 'fenced' | 'memberIdRequired' | 'coordinator' | 'fatal' | 'retry';

export interface ClassifiedGroupError {
  readonly action: GroupErrorAction;
  /** The kafkajs protocol error type (`REBALANCE_IN_PROGRESS`) or error name (`KafkaJSConnectionError`). */
  readonly kind: string;
  /** True when no broker could be reached at all (not a broker's answer): worth a warning naming the brokers. */
  readonly unreachable: boolean;
  /** `memberIdRequired` only: the id the coordinator handed out. */
  readonly memberId?: string;
}

const BY_TYPE: Readonly<Record<string, GroupErrorAction>> = {
  REBALANCE_IN_PROGRESS: 'rejoin',
  UNKNOWN_MEMBER_ID: 'fenced',
  ILLEGAL_GENERATION: 'fenced',
  FENCED_INSTANCE_ID: 'fenced',
  MEMBER_ID_REQUIRED: 'memberIdRequired',
  NOT_COORDINATOR_FOR_GROUP: 'coordinator',
  GROUP_COORDINATOR_NOT_AVAILABLE: 'coordinator',
  GROUP_LOAD_IN_PROGRESS: 'coordinator',
  REQUEST_TIMED_OUT: 'coordinator',
  NETWORK_EXCEPTION: 'coordinator',
  // The coordinator stays where it is for these, but no retry of ours can change the answer.
  INVALID_SESSION_TIMEOUT: 'fatal',
  INCONSISTENT_GROUP_PROTOCOL: 'fatal',
  INVALID_GROUP_ID: 'fatal',
  GROUP_AUTHORIZATION_FAILED: 'fatal',
  CLUSTER_AUTHORIZATION_FAILED: 'fatal',
  GROUP_MAX_SIZE_REACHED: 'fatal',
  UNSUPPORTED_VERSION: 'fatal',
  UNSUPPORTED_SASL_MECHANISM: 'fatal',
  SASL_AUTHENTICATION_FAILED: 'fatal',
};

/** kafkajs error names that mean "no answer from a broker" (the request may or may not have arrived). */
const CONNECTION_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
]);
const FATAL_NAMES = new Set(['KafkaJSSASLAuthenticationError', 'KafkaJSServerDoesNotSupportApiKey']);
/** Socket errors: the brokers are down, unreachable or misnamed. */
const SOCKET_CODES = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/;

/** Walks `err` and its `cause`/`originalError` chain (kafkajs wraps) for the first error it knows. */
export function classifyGroupError(err: unknown): ClassifiedGroupError {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { type?: unknown; name?: unknown; code?: unknown; memberId?: unknown; cause?: unknown; originalError?: unknown };
    const action = typeof e.type === 'string' ? BY_TYPE[e.type] : undefined;
    if (action === 'memberIdRequired' && typeof e.memberId === 'string' && e.memberId !== '') {
      return { action, kind: e.type as string, unreachable: false, memberId: e.memberId };
    }
    if (action !== undefined && action !== 'memberIdRequired') return { action, kind: e.type as string, unreachable: false };
    if (typeof e.name === 'string' && FATAL_NAMES.has(e.name)) return { action: 'fatal', kind: e.name, unreachable: false };
    if (typeof e.name === 'string' && CONNECTION_NAMES.has(e.name)) {
      return { action: 'coordinator', kind: e.name, unreachable: e.name !== 'KafkaJSGroupCoordinatorNotFound' };
    }
    if (typeof e.code === 'string' && SOCKET_CODES.test(e.code)) return { action: 'coordinator', kind: e.code, unreachable: true };
    current = e.cause ?? e.originalError;
  }
  const name = err instanceof Error ? err.name : typeof err;
  return { action: 'retry', kind: name, unreachable: false };
}

/** Broker addresses (`host:port`) named by `err` or its causes: kafkajs puts them on connection errors. */
function brokersNamedBy(err: unknown): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { broker?: unknown; host?: unknown; port?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof e.broker === 'string' && e.broker !== '') found.push(e.broker);
    else if (typeof e.host === 'string' && typeof e.port === 'number') found.push(`${e.host}:${e.port}`);
    current = e.cause ?? e.originalError;
  }
  return found;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs the caller's `metadata`, `assign` or `onAssigned`; what it throws becomes a SluiceError that names it. */
export async function guarded<T>(callback: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new SluiceError(GroupMembershipErrorCode.callback, `${callback} threw: ${errorMessage(err)}`, { cause: err });
  }
}

export function sessionExpiredError(groupId: string, memberId: string, silentMs: number, sessionTimeoutMs: number): SluiceError {
  return new SluiceError(
    GroupMembershipErrorCode.sessionExpired,
    `no heartbeat of member ${memberId} reached the coordinator of group "${groupId}" for ${Math.round(silentMs)} ms (session timeout ` +
      `${sessionTimeoutMs} ms): the coordinator has dropped it and reassigned its work (was the process stopped, or the brokers unreachable?)`,
    { retriable: true },
  );
}

export function fencedError(groupId: string, memberId: string, generation: number, err: unknown, c: ClassifiedGroupError): SluiceError {
  return new SluiceError(
    GroupMembershipErrorCode.fenced,
    `the coordinator of group "${groupId}" no longer knows member ${memberId} in generation ${generation} (${c.kind}); joining as a new member`,
    { cause: err, retriable: true },
  );
}

export function fatalError(o: { groupId: string; protocolType: string; sessionTimeoutMs: number }, err: unknown, c: ClassifiedGroupError): SluiceError {
  let hint = '';
  if (c.kind === 'INCONSISTENT_GROUP_PROTOCOL') {
    hint = `; another client uses group id "${o.groupId}" with a protocol type other than "${o.protocolType}" (a consumer group?): choose another cluster name`;
  } else if (c.kind === 'INVALID_SESSION_TIMEOUT') {
    hint = `; sessionTimeoutMs ${o.sessionTimeoutMs} is outside the broker's group.min.session.timeout.ms..group.max.session.timeout.ms`;
  } else if (c.kind === 'GROUP_AUTHORIZATION_FAILED') {
    hint = `; grant this client's principal READ on group "${o.groupId}"`;
  }
  return new SluiceError(GroupMembershipErrorCode.fatal, `cannot be a member of group "${o.groupId}" (${c.kind}): ${errorMessage(err)}${hint}`, {
    cause: err,
    retriable: false,
  });
}

export function unreachableMessage(groupId: string, brokers: readonly string[], err: unknown): string {
  return (
    `cannot reach the Kafka brokers ${brokers.join(', ') || '(none named yet)'} for group "${groupId}" (${errorMessage(err)}); retrying until ` +
    "it works or leave() is called. Check that the brokers are running and reachable from this host (the client's brokers list, the " +
    "brokers' advertised.listeners, firewalls) and the client's ssl and sasl settings"
  );
}

export function validateOptions(o: { groupId: string; sessionTimeoutMs: number; rebalanceTimeoutMs: number; heartbeatIntervalMs: number }): void {
  const bad = (what: string): never => {
    throw new SluiceError('SLUICE_INVALID_OPTION', `GroupMembership: ${what}`, { retriable: false });
  };
  if (o.groupId === '') bad('groupId must not be empty');
  if (!(o.sessionTimeoutMs > 0)) bad(`sessionTimeoutMs must be positive, got ${o.sessionTimeoutMs}`);
  if (!(o.rebalanceTimeoutMs > 0)) bad(`rebalanceTimeoutMs must be positive, got ${o.rebalanceTimeoutMs}`);
  if (!(o.heartbeatIntervalMs > 0 && o.heartbeatIntervalMs < o.sessionTimeoutMs)) {
    bad(`heartbeatIntervalMs must be positive and below sessionTimeoutMs (${o.sessionTimeoutMs}), got ${o.heartbeatIntervalMs}`);
  }
}

const RETRY_BACKOFF_MS = 100;
/** Below the smallest session timeout a broker accepts (6 s): a leader retrying its `assign` must not expire meanwhile. */
const RETRY_BACKOFF_MAX_MS = 2_000;

/** Exponential from 100 ms to 2 s, ±20 % jitter so members that failed together do not retry together. */
export function backoff(attempt: number): number {
  const base = Math.min(RETRY_BACKOFF_MAX_MS, RETRY_BACKOFF_MS * 2 ** Math.max(0, Math.min(attempt - 1, 10)));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

const UNREACHABLE_WARNING_EVERY_MS = 30_000;

/**
 * When to warn that no broker answers: at the first failure, then every 30 s while it lasts (a retry every 2 s would
 * flood the log), naming every broker tried so far.
 */
export class UnreachableWarnings {
  readonly #brokers = new Set<string>();
  #lastWarning: number | undefined;

  /** The brokers to name when a warning is due now; undefined while the last one is recent. */
  failed(err: unknown, seed: string | undefined): string[] | undefined {
    for (const broker of brokersNamedBy(err)) this.#brokers.add(broker);
    if (seed !== undefined) this.#brokers.add(seed);
    const now = performance.now();
    if (this.#lastWarning !== undefined && now - this.#lastWarning < UNREACHABLE_WARNING_EVERY_MS) return undefined;
    this.#lastWarning = now;
    return [...this.#brokers];
  }

  /** A broker answered; true when a warning was out (worth saying it is over). */
  reached(): boolean {
    const warned = this.#lastWarning !== undefined;
    this.#lastWarning = undefined;
    return warned;
  }
}
