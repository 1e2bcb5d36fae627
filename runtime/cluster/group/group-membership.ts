import { SluiceError } from '../../errors/index.ts';
import type { Logger } from '../../logging/index.ts';
import type { GroupMembershipOptions, GroupMembershipTestHooks, MembershipView } from './group-membership-options.ts';
import { GroupSession } from './group-session.ts';
import { CoordinatorLink, settlesWithin, toBuffer, toBytes, type GroupCoordinator, type JoinGroupResponse } from './group-coordinator-link.ts';
import {
  backoff,
  guarded,
  classifyGroupError,
  errorMessage,
  fatalError,
  fencedError,
  GroupMembershipErrorCode,
  sessionExpiredError,
  unreachableMessage,
  UnreachableWarnings,
  validateOptions,
  type ClassifiedGroupError,
} from './group-protocol-errors.ts';

export { GroupMembershipErrorCode } from './group-protocol-errors.ts';

export type { GroupMembershipOptions, GroupMembershipTestHooks, MembershipView } from './group-membership-options.ts';

const hooks = new WeakMap<GroupMembership, GroupMembershipTestHooks>();

/** @internal For tests only. */
export function groupMembershipTestHooks(membership: GroupMembership): GroupMembershipTestHooks {
  return hooks.get(membership) as GroupMembershipTestHooks;
}

const LEAVE_TIMEOUT_MS = 5_000;
const ABORT_POLL_MS = 50;

interface Started {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
  settled: boolean;
}

/** Raised when the session deadline passes while a heartbeat is still unanswered. */
class SessionDeadline extends Error {}

/**
 * Membership in a Kafka group with Sluice's own protocol type (as Kafka Connect's distributed workers use `connect`):
 * every member joins, the coordinator picks a leader, the leader's `assign` divides the work, every member gets
 * its part in `onAssigned` and heartbeats until the next rebalance. Metadata and assignments are opaque bytes.
 *
 * Kafka's eager protocol as its Java clients run it: REBALANCE_IN_PROGRESS rejoins with the same member id;
 * UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION call `onLost` and join as a new member; a coordinator that moved or cannot
 * be reached is looked up again with backoff, for as long as it takes (warnings name the brokers). Fencing: when no
 * heartbeat succeeded for a whole session timeout (the process was stopped, the brokers were unreachable), the
 * coordinator has handed the assignment to others, so `onLost` runs before anything else, timed by the monotonic clock.
 * A follower's `rejoin()` with unchanged metadata gets the current generation back (Kafka rebalances on a leader's
 * rejoin or changed metadata only).
 *
 * @example
 * ```ts
 * const membership = new GroupMembership({
 *   kafka: new Kafka({ brokers: ['localhost:9092'] }),
 *   groupId: 'sluice.prod',
 *   sessionTimeoutMs: 10_000,
 *   rebalanceTimeoutMs: 60_000,
 *   metadata: () => Buffer.from(JSON.stringify({ jobs: running() })),
 *   assign: async (members) => new Map(members.map((m, i) => [m.memberId, Buffer.from(plan[i] ?? '')])),
 *   onAssigned: async ({ generation, assignment }) => runJobs(generation, assignment),
 *   onLost: () => stopAllJobs(),
 *   logger,
 * });
 * await membership.start(); // after the first assignment
 * membership.rejoin(); // a job was submitted: rebalance
 * await membership.leave();
 * ```
 */
export class GroupMembership {
  readonly #o: Required<Omit<GroupMembershipOptions, 'onLost' | 'onSessionLease' | 'kafka' | 'logger'>> & Pick<GroupMembershipOptions, 'onLost'>;
  readonly #log: Logger;
  readonly #link: CoordinatorLink;
  #coordinator: GroupCoordinator | undefined;
  #memberId = '';
  #generation = -1;
  #view: MembershipView | undefined;
  /** Since when and how long the coordinator surely counts our session. */
  readonly #session: GroupSession;
  #rejoinRequested = false;
  #stopping = false;
  #failure: SluiceError | undefined;
  #failures = 0;
  #callbackFailures = 0;
  #wakeup: (() => void) | undefined;
  #frozen = false;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #started: Started | undefined;
  readonly #unreachable = new UnreachableWarnings();
  readonly #stats = { heartbeatsSent: 0, heartbeatsOk: 0, coordinatorLookups: 0 };

  constructor(options: GroupMembershipOptions) {
    const { kafka, logger, onLost, onSessionLease, ...rest } = options;
    this.#o = {
      ...rest,
      protocolType: rest.protocolType ?? 'sluice',
      protocolName: rest.protocolName ?? 'sluice-v1',
      heartbeatIntervalMs: rest.heartbeatIntervalMs ?? Math.floor(rest.sessionTimeoutMs / 3),
      ...(onLost === undefined ? {} : { onLost }),
    };
    validateOptions(this.#o);
    this.#log = logger.child({ groupId: options.groupId });
    this.#link = new CoordinatorLink(kafka);
    this.#session = new GroupSession(rest.sessionTimeoutMs, onSessionLease);
    hooks.set(this, {
      freeze: () => {
        this.#frozen = true;
        return () => {
          this.#frozen = false;
          this.#signal();
        };
      },
      vanish: () => (this.#closing ??= this.#close(false)),
      stats: () => ({ ...this.#stats }),
    });
  }

  /** Joins the group; resolves once the first assignment was delivered to `onAssigned`, rejects if `leave()` ran first. */
  start(): Promise<void> {
    if (this.#started !== undefined) return this.#started.promise;
    const started = { settled: false } as Started;
    started.promise = new Promise<void>((resolve, reject) => Object.assign(started, { resolve, reject }));
    // Handled here so a caller that leaves without awaiting start() gets no unhandled rejection.
    started.promise.catch(() => undefined);
    this.#started = started;
    if (this.#closing !== undefined) this.#settleStart(new SluiceError(GroupMembershipErrorCode.left, `group "${this.#o.groupId}": start() after leave()`));
    else this.#loop = this.#run();
    return started.promise;
  }

  /** Asks for a new rebalance (a new job, changed metadata): sends JoinGroup again once the current assignment is delivered. */
  rejoin(): void {
    if (this.#stopping) return;
    this.#rejoinRequested = true;
    this.#signal();
  }

  /** The assignment held now; undefined before the first, after `onLost` and after `leave()`. */
  current(): MembershipView | undefined {
    return this.#view;
  }

  /**
   * Whether the coordinator surely still counts this member's session, by the monotonic clock: it holds an assignment,
   * and a heartbeat that succeeded was sent less than a session timeout ago, or a JoinGroup or SyncGroup sent within
   * the session is still waiting (Kafka keeps such a member alive). Unlike `onLost`, this needs no turn of the
   * heartbeat loop: a process resuming past its session gets `false` at once, before any of its I/O callbacks could
   * act on the assignment. Ask it before acting on the assignment where a stale member would do harm.
   *
   * @example
   * ```ts
   * if (!membership.holdsSession()) throw new Error('another member may own this job now');
   * ```
   */
  holdsSession(): boolean {
    return this.#session.holds();
  }

  /** LeaveGroup (the others rebalance at once, not after a session timeout), then every socket and timer closed. Idempotent. */
  leave(): Promise<void> {
    return (this.#closing ??= this.#close(true));
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      await this.#gate();
      if (this.#stopping) break;
      try {
        if (this.#session.expired()) this.#lose(this.#expiredError());
        const coordinator = this.#coordinator ?? (await this.#findCoordinator());
        if (this.#stopping) break;
        let joined: JoinGroupResponse;
        let assignment: Uint8Array;
        try {
          joined = await this.#join(coordinator);
          if (this.#stopping) break;
          assignment = await this.#sync(coordinator, joined);
        } finally {
          this.#session.requestSettled();
        }
        if (this.#stopping) break;
        this.#reachable();
        const isLeader = joined.leaderId === joined.memberId;
        const view: MembershipView = { generation: joined.generationId, memberId: joined.memberId, leaderId: joined.leaderId, isLeader, assignment };
        this.#view = view;
        this.#session.assigned(true);
        this.#log.info({ generation: view.generation, memberId: view.memberId, leaderId: view.leaderId, isLeader }, `joined group "${this.#o.groupId}" in generation ${view.generation}${isLeader ? ' as leader' : ''}`);
        await this.#stable(this.#deliver(view));
      } catch (err) {
        if (this.#stopping) break;
        await this.#recover(err);
      }
    }
    // A fatal error stopped the loop: leave the group and close the connections as leave() would.
    if (this.#failure !== undefined) void this.leave();
  }

  async #findCoordinator(): Promise<GroupCoordinator> {
    this.#stats.coordinatorLookups++;
    this.#coordinator = await this.#link.find(this.#o.groupId);
    return this.#coordinator;
  }

  async #join(coordinator: GroupCoordinator): Promise<JoinGroupResponse> {
    const metadata = await guarded('metadata', () => this.#o.metadata());
    this.#rejoinRequested = false;
    this.#session.requestSent();
    const joined = await coordinator.joinGroup({
      groupId: this.#o.groupId,
      sessionTimeout: this.#o.sessionTimeoutMs,
      rebalanceTimeout: this.#o.rebalanceTimeoutMs,
      memberId: this.#memberId,
      protocolType: this.#o.protocolType,
      groupProtocols: [{ name: this.#o.protocolName, metadata: toBuffer(metadata) }],
    });
    this.#memberId = joined.memberId;
    this.#generation = joined.generationId;
    // The coordinator keeps a member alive while its JoinGroup waits, and restarts its session when answering.
    this.#session.restartedAt(performance.now());
    return joined;
  }

  async #sync(coordinator: GroupCoordinator, joined: JoinGroupResponse): Promise<Uint8Array> {
    const groupAssignment: Array<{ memberId: string; memberAssignment: Buffer }> = [];
    if (joined.leaderId === joined.memberId) {
      const members = joined.members.map((m) => ({ memberId: m.memberId, metadata: toBytes(m.memberMetadata) }));
      const assigned = await guarded('assign', () => this.#o.assign(members, joined.generationId));
      const strangers = [...assigned.keys()].filter((id) => !members.some((m) => m.memberId === id));
      if (strangers.length > 0) this.#log.warn({ strangers, generation: joined.generationId }, `assign() returned assignments for ${strangers.length} id(s) that are not members of generation ${joined.generationId}; they are dropped`);
      for (const m of members) groupAssignment.push({ memberId: m.memberId, memberAssignment: toBuffer(assigned.get(m.memberId) ?? new Uint8Array(0)) });
    }
    this.#session.requestSent();
    const { memberAssignment } = await coordinator.syncGroup({ groupId: this.#o.groupId, generationId: joined.generationId, memberId: joined.memberId, groupAssignment });
    this.#session.restartedAt(performance.now());
    this.#failures = 0;
    return toBytes(memberAssignment);
  }

  /** Never rejects: false when `onAssigned` threw (logged; the stable phase rejoins after a backoff). */
  async #deliver(view: MembershipView): Promise<boolean> {
    try {
      await guarded('onAssigned', () => this.#o.onAssigned(view));
    } catch (err) {
      this.#callbackFailures++;
      this.#log.error({ err, generation: view.generation }, `onAssigned failed for generation ${view.generation} of group "${this.#o.groupId}"; rejoining after a backoff`);
      return false;
    }
    this.#callbackFailures = 0;
    this.#settleStart();
    return true;
  }

  /** Heartbeats while the assignment holds; returns when a rejoin is due (never while `onAssigned` still runs) or on stop. */
  async #stable(delivery: Promise<boolean>): Promise<void> {
    let delivered: boolean | undefined;
    void delivery.then((ok) => {
      delivered = ok;
      this.#signal();
    });
    let rebalancing = false;
    let rejoinAt: number | undefined;
    let nextBeat = performance.now() + this.#o.heartbeatIntervalMs;
    for (;;) {
      await this.#gate();
      // Fencing comes first, before any request: a process that slept past its session must stop acting at once.
      if (this.#session.expired()) {
        this.#lose(this.#expiredError());
        this.#coordinator = undefined;
        this.#link.abort();
      }
      if (this.#stopping || this.#memberId === '') return void (await delivery);
      if (delivered === false && rejoinAt === undefined) rejoinAt = performance.now() + backoff(this.#callbackFailures);
      const now = performance.now();
      if (delivered !== undefined && (rebalancing || this.#rejoinRequested || (rejoinAt !== undefined && now >= rejoinAt))) return;
      if (now >= nextBeat) {
        const outcome = await this.#heartbeat();
        if (outcome === 'rebalance' && !rebalancing) this.#log.info({ generation: this.#generation }, `group "${this.#o.groupId}" is rebalancing; rejoining${delivered === undefined ? ' once onAssigned returns' : ''}`);
        if (outcome === 'rebalance') rebalancing = true;
        nextBeat = outcome === 'retry' ? performance.now() + Math.min(backoff(this.#failures), this.#o.heartbeatIntervalMs) : now + this.#o.heartbeatIntervalMs;
        continue;
      }
      const deadline = this.#session.deadline();
      await this.#sleep(Math.min(nextBeat, rejoinAt ?? Infinity, deadline) - now);
    }
  }

  async #heartbeat(): Promise<'ok' | 'rebalance' | 'retry'> {
    const sentAt = performance.now();
    try {
      const request = { groupId: this.#o.groupId, groupGenerationId: this.#generation, memberId: this.#memberId };
      await this.#beforeSessionEnds((async () => {
        const coordinator = this.#coordinator ?? (await this.#findCoordinator());
        this.#stats.heartbeatsSent++;
        await coordinator.heartbeat(request);
      })());
      // The send time, not the answer's: the coordinator restarted the session somewhere in between.
      this.#session.restartedAt(sentAt);
      this.#failures = 0;
      this.#stats.heartbeatsOk++;
      this.#reachable();
      return 'ok';
    } catch (err) {
      if (this.#stopping || err instanceof SessionDeadline) return 'retry';
      const c = classifyGroupError(err);
      if (c.action === 'rejoin') {
        // Only a current member hears this, and the coordinator restarts its session while the group prepares.
        this.#session.restartedAt(sentAt);
        return 'rebalance';
      }
      if (c.action === 'fenced') this.#lose(this.#fencedError(err, c));
      else if (c.action === 'fatal') this.#fatal(err, c);
      else this.#retrying(err, c);
      return 'retry';
    }
  }

  async #recover(err: unknown): Promise<void> {
    if (err instanceof SluiceError && err.code === GroupMembershipErrorCode.callback) {
      this.#callbackFailures++;
      this.#log.error({ err }, `${err.message}; rejoining group "${this.#o.groupId}" after a backoff`);
      return this.#sleep(backoff(this.#callbackFailures));
    }
    const c = classifyGroupError(err);
    switch (c.action) {
      case 'rejoin':
        this.#log.debug({ err, kind: c.kind }, 'group is rebalancing; joining again');
        return;
      case 'memberIdRequired':
        this.#memberId = c.memberId ?? '';
        return;
      case 'fenced': {
        const wasNew = this.#memberId === '';
        this.#lose(this.#fencedError(err, c));
        if (wasNew) return this.#sleep(backoff(++this.#failures));
        return;
      }
      case 'fatal':
        return this.#fatal(err, c);
      default:
        this.#retrying(err, c);
        return this.#sleep(backoff(this.#failures));
    }
  }

  /** A retriable failure: counts it, forgets a coordinator that moved or cannot be reached, logs. */
  #retrying(err: unknown, c: ClassifiedGroupError): void {
    this.#failures++;
    if (c.action === 'coordinator') this.#coordinator = undefined;
    if (c.unreachable) return this.#warnUnreachable(err);
    if (c.action === 'coordinator') this.#log.info({ kind: c.kind }, `the coordinator of group "${this.#o.groupId}" moved or is not ready (${c.kind}); finding it again`);
    else this.#log.warn({ err, attempt: this.#failures }, `group "${this.#o.groupId}": ${errorMessage(err)}; retrying`);
  }

  #warnUnreachable(err: unknown): void {
    const brokers = this.#unreachable.failed(err, this.#link.seedAddress());
    if (brokers === undefined) return void this.#log.debug({ err, attempt: this.#failures }, 'Kafka still unreachable');
    this.#log.warn({ err, brokers, attempt: this.#failures }, unreachableMessage(this.#o.groupId, brokers, err));
  }

  #reachable(): void {
    if (this.#unreachable.reached()) this.#log.info(`reached the Kafka brokers of group "${this.#o.groupId}" again`);
  }

  #fatal(err: unknown, c: ClassifiedGroupError): void {
    const reason = fatalError(this.#o, err, c);
    this.#log.error({ err: reason }, reason.message);
    this.#failure = reason;
    this.#stopping = true;
    this.#settleStart(reason);
    // The member id stays: leave() still sends LeaveGroup, so the others need not wait out the session.
    this.#lose(reason, false);
  }

  /** Forgets the member id (the coordinator has, or will) and tells the caller, if it held an assignment. */
  #lose(reason: SluiceError, forgetMember = true): void {
    if (forgetMember) {
      this.#memberId = '';
      this.#generation = -1;
    }
    const view = this.#view;
    this.#view = undefined;
    this.#session.assigned(false);
    this.#session.forget();
    if (view === undefined) return void this.#log.debug({ err: reason }, 'member id dropped; joining as a new member');
    this.#log.warn({ err: reason, generation: view.generation }, `lost the assignment of generation ${view.generation}: ${reason.message}`);
    try {
      this.#o.onLost?.(reason);
    } catch (err) {
      this.#log.error({ err }, 'onLost threw');
    }
  }

  #expiredError(): SluiceError {
    return sessionExpiredError(this.#o.groupId, this.#memberId, this.#session.sinceAnchorMs(), this.#o.sessionTimeoutMs);
  }

  #fencedError(err: unknown, c: ClassifiedGroupError): SluiceError {
    return fencedError(this.#o.groupId, this.#memberId, this.#generation, err, c);
  }

  /** Races a heartbeat against the session deadline: a hung broker must not delay fencing by the request timeout. */
  async #beforeSessionEnds(request: Promise<void>): Promise<void> {
    const left = this.#session.deadline() - performance.now();
    if (left !== Infinity && !(await settlesWithin(request, Math.max(0, left)))) throw new SessionDeadline();
    return request;
  }

  async #close(graceful: boolean): Promise<void> {
    this.#stopping = true;
    this.#frozen = false;
    this.#signal();
    this.#settleStart(new SluiceError(GroupMembershipErrorCode.left, `left group "${this.#o.groupId}" before the first assignment`, { retriable: false }));
    // Requests in flight fail at once: a JoinGroup would otherwise hold the loop for up to the rebalance timeout.
    const loop = this.#loop;
    if (loop !== undefined) while (!(await settlesWithin(loop, ABORT_POLL_MS))) this.#link.abort();
    if (graceful) await this.#leaveGroup();
    this.#view = undefined;
    this.#session.assigned(false);
    await this.#link.close(!graceful);
    this.#log.info(`${graceful ? 'left' : 'dropped out of'} group "${this.#o.groupId}"`);
  }

  async #leaveGroup(): Promise<void> {
    const memberId = this.#memberId;
    if (memberId === '') return;
    this.#memberId = '';
    const dropped = `the coordinator drops member ${memberId} after its session timeout`;
    try {
      if (await this.#link.leaveGroup(this.#o.groupId, memberId, this.#coordinator, LEAVE_TIMEOUT_MS)) return;
      this.#log.warn(`LeaveGroup for group "${this.#o.groupId}" got no answer within ${LEAVE_TIMEOUT_MS} ms; ${dropped}`);
    } catch (err) {
      this.#log.warn({ err }, `LeaveGroup failed for group "${this.#o.groupId}"; ${dropped}`);
    }
  }

  #settleStart(err?: Error): void {
    const started = this.#started;
    if (started === undefined || started.settled) return;
    started.settled = true;
    if (err === undefined) started.resolve();
    else started.reject(err);
  }

  /** Waits while frozen (test hook), until thawed or stopped. */
  async #gate(): Promise<void> {
    while (this.#frozen && !this.#stopping) await this.#sleep(Infinity);
  }

  /** Sleeps `ms` (Infinity: until signalled); a signal (rejoin, thaw, stop, onAssigned done) ends it early. */
  #sleep(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        if (this.#wakeup === done) this.#wakeup = undefined;
        resolve();
      };
      if (Number.isFinite(ms)) timer = setTimeout(done, Math.max(0, ms));
      this.#wakeup = done;
    });
  }

  #signal(): void {
    const wakeup = this.#wakeup;
    this.#wakeup = undefined;
    wakeup?.();
  }
}
