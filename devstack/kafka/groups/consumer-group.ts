import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../../../runtime/time/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { DescribedGroup } from '../protocol/describe-groups-v1-2.ts';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/join-group-v2-3.ts';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/sync-group-v1-2.ts';

/**
 * The group membership state machine of Kafka 2.1's `GroupCoordinator` (eager rebalance protocol):
 *
 *   Empty --join--> PreparingRebalance --all members rejoined or rebalance timeout--> CompletingRebalance
 *   CompletingRebalance --leader's SyncGroup--> Stable
 *   Stable / CompletingRebalance --new member, leader rejoin, changed metadata, leave, session expiry-->
 *       PreparingRebalance
 *   PreparingRebalance --every member gone--> Empty (next generation)
 *   Empty --DeleteGroups--> Dead
 *
 * JoinGroup answers are held until the join phase completes; SyncGroup answers until the leader's assignment
 * arrives. Protocol metadata and assignments are opaque bytes. Members waiting in a JoinGroup or SyncGroup are kept
 * alive; otherwise a member silent for its session timeout is removed.
 */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

interface Member {
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  awaitingJoin: ((res: JoinGroupResponse) => void) | undefined;
  awaitingSync: ((res: SyncGroupResponse) => void) | undefined;
  sessionTimer: TimerHandle | undefined;
}

export interface JoinContext {
  clientId: string;
  clientHost: string;
}

export interface GroupTiming {
  clock: Clock;
  /** group.initial.rebalance.delay.ms: how long the first join into an Empty group waits for more members. */
  initialRebalanceDelayMs: number;
}

const EMPTY = Buffer.alloc(0);

export class ConsumerGroup {
  readonly groupId: string;
  #state: GroupState = 'Empty';
  #generationId = 0;
  #protocolType: string | null = null;
  #protocol: string | null = null;
  #leaderId: string | null = null;
  readonly #members = new Map<string, Member>();
  #rebalanceTimer: TimerHandle | undefined;
  readonly #timing: GroupTiming;

  constructor(groupId: string, timing: GroupTiming) {
    this.groupId = groupId;
    this.#timing = timing;
  }

  get state(): GroupState {
    return this.#state;
  }

  get generationId(): number {
    return this.#generationId;
  }

  get protocolType(): string | null {
    return this.#protocolType;
  }

  has(memberId: string): boolean {
    return this.#members.has(memberId);
  }

  get size(): number {
    return this.#members.size;
  }

  join(req: JoinGroupRequest, ctx: JoinContext, respond: (res: JoinGroupResponse) => void): void {
    const fail = (errorCode: number): void =>
      respond({ errorCode, generationId: -1, protocolName: '', leader: '', memberId: req.memberId, members: [] });
    if (this.#state === 'Dead') return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (!this.#supportsProtocols(req.protocolType, req.protocols)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (req.memberId !== '' && !this.#members.has(req.memberId)) return fail(ErrorCode.UNKNOWN_MEMBER_ID);

    const existing = req.memberId === '' ? undefined : this.#members.get(req.memberId);
    if (existing === undefined) {
      this.#addMemberAndRebalance(req, ctx, respond);
    } else if (this.#state === 'PreparingRebalance') {
      this.#updateMemberAndRebalance(existing, req, respond);
    } else if (this.#state === 'CompletingRebalance') {
      if (matches(existing, req.protocols)) respond(this.#joinResponse(existing.memberId));
      else this.#updateMemberAndRebalance(existing, req, respond);
    } else if (existing.memberId === this.#leaderId || !matches(existing, req.protocols)) {
      // Stable (or Empty): the leader re-joining (it noticed new partitions) or changed metadata forces a rebalance.
      this.#updateMemberAndRebalance(existing, req, respond);
    } else {
      respond(this.#joinResponse(existing.memberId));
    }
    if (this.#state === 'PreparingRebalance') this.#tryCompleteJoin();
  }

  sync(req: SyncGroupRequest, respond: (res: SyncGroupResponse) => void): void {
    const fail = (errorCode: number): void => respond({ errorCode, assignment: EMPTY });
    const member = this.#members.get(req.memberId);
    if (this.#state === 'Dead' || member === undefined) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    if (req.generationId !== this.#generationId) return fail(ErrorCode.ILLEGAL_GENERATION);
    switch (this.#state) {
      case 'Empty':
        return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      case 'PreparingRebalance':
        return fail(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'CompletingRebalance': {
        member.awaitingSync = respond;
        this.#heartbeat(member);
        if (member.memberId === this.#leaderId) {
          const given = new Map(req.assignments.map((a) => [a.memberId, a.assignment]));
          for (const m of this.#members.values()) m.assignment = given.get(m.memberId) ?? EMPTY;
          this.#state = 'Stable';
          for (const m of this.#members.values()) {
            const cb = m.awaitingSync;
            m.awaitingSync = undefined;
            if (cb === undefined) continue;
            this.#heartbeat(m);
            const res = { errorCode: ErrorCode.NONE, assignment: m.assignment };
            // The leader's answer goes out first, the followers' a microtask later: the leader's own request is still
            // being handled here, so answering the followers synchronously would put their bytes on the wire before
            // the leader's. Kafka gives no order; leader-first is the order clients observing the group expect.
            if (m === member) cb(res);
            else queueMicrotask(() => cb(res));
          }
        }
        return;
      }
      case 'Stable':
        this.#heartbeat(member);
        return respond({ errorCode: ErrorCode.NONE, assignment: member.assignment });
    }
  }

  heartbeat(memberId: string, generationId: number): number {
    const member = this.#members.get(memberId);
    if (this.#state === 'Dead' || this.#state === 'Empty' || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (this.#state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    if (generationId !== this.#generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.#heartbeat(member);
    return this.#state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  leave(memberId: string): number {
    const member = this.#members.get(memberId);
    if (this.#state === 'Dead' || member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.#removeMember(member);
    return ErrorCode.NONE;
  }

  /**
   * Kafka 2.1's membership check for OffsetCommit (`doCommitOffsets`): a commit with a negative generation is a
   * "simple" commit, allowed only while the group has no members.
   */
  checkCommit(memberId: string, generationId: number): number {
    if (this.#state === 'Dead') return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId < 0 && this.#state === 'Empty') return ErrorCode.NONE;
    if (this.#state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    const member = this.#members.get(memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.#generationId) return ErrorCode.ILLEGAL_GENERATION;
    this.#heartbeat(member);
    return ErrorCode.NONE;
  }

  describe(): DescribedGroup {
    const stable = this.#state === 'Stable';
    return {
      errorCode: ErrorCode.NONE,
      groupId: this.groupId,
      state: this.#state,
      protocolType: this.#protocolType ?? '',
      protocol: stable ? (this.#protocol ?? '') : '',
      members: [...this.#members.values()].map((m) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable ? (m.protocols.find((p) => p.name === this.#protocol)?.metadata ?? EMPTY) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  /** DeleteGroups: only an Empty group can go. */
  markDead(): void {
    this.#state = 'Dead';
    this.#clearTimers();
  }

  /** Broker shutdown: stop timers; pending joins and syncs are dropped with their connections. */
  close(): void {
    this.#clearTimers();
  }

  #clearTimers(): void {
    const clock = this.#timing.clock;
    if (this.#rebalanceTimer !== undefined) clock.clearTimeout(this.#rebalanceTimer);
    this.#rebalanceTimer = undefined;
    for (const m of this.#members.values()) if (m.sessionTimer !== undefined) clock.clearTimeout(m.sessionTimer);
  }

  #supportsProtocols(protocolType: string, protocols: { name: string }[]): boolean {
    if (protocolType === '' || protocols.length === 0) return false;
    if (this.#state === 'Empty' && this.#members.size === 0) return true;
    if (protocolType !== this.#protocolType) return false;
    const candidates = this.#candidateProtocols();
    return protocols.some((p) => candidates.has(p.name));
  }

  #candidateProtocols(): Set<string> {
    let set: Set<string> | undefined;
    for (const m of this.#members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      set = set === undefined ? names : new Set([...set].filter((n) => names.has(n)));
    }
    return set ?? new Set();
  }

  #addMemberAndRebalance(req: JoinGroupRequest, ctx: JoinContext, respond: (res: JoinGroupResponse) => void): void {
    const memberId = `${ctx.clientId}-${randomUUID()}`;
    const member: Member = {
      memberId,
      clientId: ctx.clientId,
      clientHost: ctx.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocols: req.protocols,
      assignment: EMPTY,
      awaitingJoin: respond,
      awaitingSync: undefined,
      sessionTimer: undefined,
    };
    if (this.#members.size === 0) this.#protocolType = req.protocolType;
    this.#members.set(memberId, member);
    this.#leaderId ??= memberId;
    this.#maybePrepareRebalance();
  }

  #updateMemberAndRebalance(member: Member, req: JoinGroupRequest, respond: (res: JoinGroupResponse) => void): void {
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.awaitingJoin = respond;
    this.#maybePrepareRebalance();
  }

  #maybePrepareRebalance(): void {
    if (this.#state === 'Stable' || this.#state === 'CompletingRebalance' || this.#state === 'Empty') {
      this.#prepareRebalance();
    }
  }

  #prepareRebalance(): void {
    if (this.#state === 'CompletingRebalance') {
      // Members waiting for an assignment of the abandoned generation learn that they must rejoin.
      for (const m of this.#members.values()) {
        m.assignment = EMPTY;
        const cb = m.awaitingSync;
        m.awaitingSync = undefined;
        cb?.({ errorCode: ErrorCode.REBALANCE_IN_PROGRESS, assignment: EMPTY });
      }
    }
    const wasEmpty = this.#state === 'Empty';
    this.#state = 'PreparingRebalance';
    let timeout = 0;
    for (const m of this.#members.values()) timeout = Math.max(timeout, m.rebalanceTimeoutMs);
    const delay = wasEmpty ? Math.min(this.#timing.initialRebalanceDelayMs, timeout) : timeout;
    const clock = this.#timing.clock;
    if (this.#rebalanceTimer !== undefined) clock.clearTimeout(this.#rebalanceTimer);
    this.#rebalanceTimer = clock.setTimeout(() => {
      this.#rebalanceTimer = undefined;
      this.#completeJoin();
    }, delay);
    // With an initial delay the join waits for it even when every known member has joined.
    this.#initialDelayPending = wasEmpty && delay > 0;
  }

  #initialDelayPending = false;

  #tryCompleteJoin(): void {
    if (this.#state !== 'PreparingRebalance' || this.#initialDelayPending) return;
    for (const m of this.#members.values()) if (m.awaitingJoin === undefined) return;
    this.#completeJoin();
  }

  #completeJoin(): void {
    if (this.#state !== 'PreparingRebalance') return;
    this.#initialDelayPending = false;
    const clock = this.#timing.clock;
    if (this.#rebalanceTimer !== undefined) clock.clearTimeout(this.#rebalanceTimer);
    this.#rebalanceTimer = undefined;
    for (const m of [...this.#members.values()]) {
      if (m.awaitingJoin === undefined) this.#dropMember(m);
    }
    this.#generationId++;
    if (this.#members.size === 0) {
      this.#state = 'Empty';
      this.#protocol = null;
      this.#leaderId = null;
      return;
    }
    this.#protocol = this.#selectProtocol();
    this.#state = 'CompletingRebalance';
    for (const m of this.#members.values()) {
      const cb = m.awaitingJoin;
      m.awaitingJoin = undefined;
      this.#heartbeat(m);
      cb?.(this.#joinResponse(m.memberId));
    }
  }

  #joinResponse(memberId: string): JoinGroupResponse {
    const isLeader = memberId === this.#leaderId;
    const protocol = this.#protocol ?? '';
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.#generationId,
      protocolName: protocol,
      leader: this.#leaderId ?? '',
      memberId,
      members: isLeader
        ? [...this.#members.values()].map((m) => ({
            memberId: m.memberId,
            metadata: m.protocols.find((p) => p.name === protocol)?.metadata ?? EMPTY,
          }))
        : [],
    };
  }

  /** Every member votes for its most preferred protocol among those all members support. */
  #selectProtocol(): string {
    const candidates = this.#candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.#members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name))?.name;
      if (choice !== undefined) votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  #heartbeat(member: Member): void {
    const clock = this.#timing.clock;
    if (member.sessionTimer !== undefined) clock.clearTimeout(member.sessionTimer);
    member.sessionTimer = clock.setTimeout(() => this.#sessionExpired(member), member.sessionTimeoutMs);
  }

  #sessionExpired(member: Member): void {
    member.sessionTimer = undefined;
    if (this.#members.get(member.memberId) !== member) return;
    if (member.awaitingJoin !== undefined || member.awaitingSync !== undefined) {
      this.#heartbeat(member);
      return;
    }
    this.#removeMember(member);
  }

  #dropMember(member: Member): void {
    if (member.sessionTimer !== undefined) this.#timing.clock.clearTimeout(member.sessionTimer);
    member.sessionTimer = undefined;
    this.#members.delete(member.memberId);
    if (this.#leaderId === member.memberId) {
      const next = this.#members.keys().next();
      this.#leaderId = next.done === true ? null : next.value;
    }
  }

  #removeMember(member: Member): void {
    this.#dropMember(member);
    if (this.#state === 'Stable' || this.#state === 'CompletingRebalance') this.#prepareRebalance();
    if (this.#state === 'PreparingRebalance') this.#tryCompleteJoin();
  }
}

function matches(member: Member, protocols: { name: string; metadata: Buffer }[]): boolean {
  if (member.protocols.length !== protocols.length) return false;
  return member.protocols.every((p, i) => {
    const other = protocols[i];
    return other !== undefined && other.name === p.name && other.metadata.equals(p.metadata);
  });
}
