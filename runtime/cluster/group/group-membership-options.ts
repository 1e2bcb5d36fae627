import type { Kafka } from 'kafkajs';
import type { Logger } from '../../logging/index.ts';

/** What one member holds in one generation of the group. */
export interface MembershipView {
  readonly generation: number;
  readonly memberId: string;
  readonly leaderId: string;
  readonly isLeader: boolean;
  /** The bytes the leader's `assign` made for this member (empty when it made none). */
  readonly assignment: Uint8Array;
}

export interface GroupMembershipOptions {
  /** A kafkajs client: brokers, ssl, sasl, clientId, connection and request timeouts come from it. */
  kafka: Kafka;
  groupId: string;
  /** The group's protocol type; every member must use the same. Default `sluice`. */
  protocolType?: string;
  /** Default `sluice-v1`. */
  protocolName?: string;
  /** Within the broker's group.min.session.timeout.ms..group.max.session.timeout.ms (6000..300000 in Kafka 2.1 and the devstack). */
  sessionTimeoutMs: number;
  /** How long the coordinator waits for every member to rejoin; `onAssigned` should finish well within it. */
  rebalanceTimeoutMs: number;
  /** Default `sessionTimeoutMs / 3`. */
  heartbeatIntervalMs?: number;
  /** Asked at every join: the member's current metadata. */
  metadata: () => Uint8Array;
  /**
   * Runs on the leader only, between JoinGroup and SyncGroup; members left out of the map get empty bytes. The
   * coordinator gets no heartbeats meanwhile: it must finish well within the session timeout.
   */
  assign: (members: ReadonlyArray<{ memberId: string; metadata: Uint8Array }>, generation: number) => Promise<ReadonlyMap<string, Uint8Array>>;
  /** Every generation's assignment, one call at a time; heartbeats go on while it runs. */
  onAssigned: (view: MembershipView) => void | Promise<void>;
  /** The member may no longer own its assignment: stop acting on it. `reason` is a SluiceError (GroupMembershipErrorCode). */
  onLost?: (reason: Error) => void;
  /**
   * Every change of how long the session surely holds: `until` in microseconds of `monotonicMicros()` (an
   * OwnerLease's value: the maximum while a JoinGroup or SyncGroup waits, -1 once it may not hold). Feeds the leases
   * of whatever acts on the assignment in other threads.
   */
  onSessionLease?: (until: bigint) => void;
  logger: Logger;
}

/** Test-only controls: a process that stops or crashes, and counters to wait on. */
export interface GroupMembershipTestHooks {
  /** Stops heartbeats and every other step, as SIGSTOP would; the returned function resumes. */
  freeze(): () => void;
  /** Stops without LeaveGroup, every socket destroyed: a crashed process. */
  vanish(): Promise<void>;
  stats(): { readonly heartbeatsSent: number; readonly heartbeatsOk: number; readonly coordinatorLookups: number };
}
