import type { Kafka } from 'kafkajs';
import type { Logger } from '../logging/index.ts';
import { GroupMembership, groupMembershipTestHooks } from './group/group-membership.ts';
import type { ClusterJobSpec } from './jobs/cluster-job-spec.ts';
import type { JobsLog } from './jobs/jobs-log.ts';
import type { StatusLog } from './jobs/status-log.ts';
import type { MemberJobs } from './member-jobs.ts';
import { decodeAssignment, decodeMetadata, encodeAssignment, encodeMetadata, planAssignment, type MemberAssignment, type OwnedJob } from './member-protocol.ts';

const HEARTBEAT_INTERVAL_MS = 1_000;

export interface ClusterCoordinationOptions {
  readonly kafka: Kafka;
  readonly cluster: string;
  readonly jobsLog: JobsLog;
  readonly status: StatusLog;
  readonly jobs: MemberJobs;
  readonly sessionTimeoutMs: number;
  /** How long a rebalance may wait for every member to rejoin. Default 60 s. */
  readonly rebalanceTimeoutMs?: number;
  readonly logger: Logger;
}

/**
 * A member's part in the cluster's group `sluice.<cluster>`: what it tells the others (its name, address, the jobs
 * it runs), what it does as leader (reads the jobs and status topics and assigns every job that should run,
 * member-protocol.ts), and what it does with each assignment (member-jobs.ts: start, stop, hand over). Assignments are
 * acted on one at a time, the newest first, off the membership's heartbeat loop: starting a job restores its state,
 * which may take longer than a session timeout.
 *
 * @example
 * ```ts
 * const coordination = new ClusterCoordination({ kafka, cluster: 'prod', jobsLog, status, jobs, sessionTimeoutMs: 10_000, logger });
 * coordination.identify('m1', 'http://10.0.0.5:8081');
 * await coordination.start();
 * coordination.requestRebalance(); // after writing a job's spec
 * await coordination.leave(); // hands the jobs over, then leaves the group
 * ```
 */
export class ClusterCoordination {
  readonly #options: ClusterCoordinationOptions;
  readonly #membership: GroupMembership;
  #name = '';
  #url = '';
  #seq = 0;
  #leaving = false;
  #view: MemberAssignment | undefined;
  #pending: MemberAssignment | undefined;
  #acting: Promise<void> | undefined;

  constructor(options: ClusterCoordinationOptions) {
    this.#options = options;
    this.#membership = new GroupMembership({
      kafka: options.kafka,
      groupId: `sluice.${options.cluster}`,
      sessionTimeoutMs: options.sessionTimeoutMs,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 60_000,
      // Members learn of a rebalance from their next heartbeat, and a handover takes two rebalances: beats every
      // second (at most a third of the session) make a move take seconds, for one tiny request per second.
      heartbeatIntervalMs: Math.min(HEARTBEAT_INTERVAL_MS, Math.floor(options.sessionTimeoutMs / 3)),
      metadata: () => encodeMetadata({ name: this.#name, url: this.#url, owned: this.#owned(), seq: this.#seq, leaving: this.#leaving }),
      assign: (members, generation) => this.#assign(members, generation),
      onAssigned: (view) => {
        const assignment = view.assignment.length === 0 ? undefined : decodeAssignment(view.assignment);
        if (assignment === undefined) return;
        this.#view = assignment;
        this.#act(assignment);
      },
      onSessionLease: (until) => options.jobs.sessionLeaseChanged(until),
      onLost: (reason) => {
        options.logger.warn({ err: reason }, 'cluster: membership lost; stopping every job at once (another member may own them now)');
        this.#view = undefined;
        this.#pending = undefined;
        void options.jobs.stopAll('lost');
      },
      logger: options.logger,
    });
  }

  /** Sets what this member tells the others (known once its REST server listens). */
  identify(name: string, url: string): void {
    this.#name = name;
    this.#url = url;
  }

  get name(): string {
    return this.#name;
  }

  get url(): string {
    return this.#url;
  }

  /** Joins the group; resolves after the first assignment arrived (its jobs start in the background). */
  start(): Promise<void> {
    return this.#membership.start();
  }

  /** The latest assignment: the cluster as the leader last described it. */
  view(): MemberAssignment | undefined {
    return this.#view;
  }

  /** Asks the leader for a new assignment (a job's spec changed). */
  requestRebalance(): void {
    this.#seq++;
    this.#membership.rejoin();
  }

  /** Stops every job with a savepoint (their next owners restore them), then leaves the group. */
  async leave(): Promise<void> {
    this.#leaving = true;
    this.#act({ generation: this.#view?.generation ?? -1, leader: '', members: [], handingOver: [], mine: [] });
    await this.#settled();
    await this.#membership.leave();
  }

  /** Test-only: drops out as a killed process would: no LeaveGroup, no savepoints, nothing written. */
  async crash(): Promise<void> {
    this.#leaving = true;
    this.#pending = undefined;
    await groupMembershipTestHooks(this.#membership).vanish();
    await this.#options.jobs.stopAll('lost');
    await this.#settled();
  }

  /** Test-only: stops the membership's heartbeats while the jobs run on (a heartbeat loop that cannot run); returns the thaw. */
  freezeMembership(): () => void {
    return groupMembershipTestHooks(this.#membership).freeze();
  }

  async #assign(members: ReadonlyArray<{ memberId: string; metadata: Uint8Array }>, generation: number): Promise<ReadonlyMap<string, Uint8Array>> {
    const [specs, statuses] = await Promise.all([this.#options.jobsLog.readAll(), this.#options.status.readAll()]);
    const runnable = new Map<string, ClusterJobSpec>();
    for (const [name, spec] of specs) {
      const status = statuses.get(name);
      // A job that failed for good (or finished) at this version is not started again; a new submit is a new version.
      if (status !== undefined && status.version === spec.version && (status.state === 'failed' || status.state === 'finished')) continue;
      runnable.set(name, spec);
    }
    const plan = planAssignment(members.map((m) => ({ memberId: m.memberId, metadata: decodeMetadata(m.metadata) })), runnable, generation, this.#name);
    const described = [...plan.values()][0];
    this.#options.logger.info(
      { generation, jobs: runnable.size, members: described?.members.map((m) => `${m.name}: ${m.jobs.map((j) => j.job).join(' ')}`), handingOver: described?.handingOver },
      'cluster: assigned jobs as leader',
    );
    return new Map([...plan].map(([memberId, assignment]) => [memberId, encodeAssignment(assignment)]));
  }

  /**
   * What this member tells the leader it runs: what runs now, and what its latest assignment gave it that is still
   * starting (a restore can take a while, and a rebalance meanwhile must not hand those jobs out again as new).
   */
  #owned(): OwnedJob[] {
    const owned = new Map<string, OwnedJob>();
    if (!this.#leaving) for (const o of this.#view?.mine ?? []) owned.set(o.job, o);
    for (const o of this.#options.jobs.owned()) owned.set(o.job, o);
    return [...owned.values()];
  }

  /** Acts on the newest assignment once the one in progress is done. */
  #act(assignment: MemberAssignment): void {
    this.#pending = this.#leaving && assignment.mine.length > 0 ? { ...assignment, mine: [] } : assignment;
    this.#acting ??= (async () => {
      while (this.#pending !== undefined) {
        const next = this.#pending;
        this.#pending = undefined;
        try {
          const specs = await this.#options.jobsLog.readAll();
          const released = await this.#options.jobs.reconcile(this.#leaving ? [] : next.mine, specs);
          if (released && !this.#leaving) this.requestRebalance();
        } catch (err) {
          this.#options.logger.error({ err }, 'cluster: acting on an assignment failed; retrying with the next rebalance');
          if (!this.#leaving) setTimeout(() => this.requestRebalance(), 1_000).unref();
        }
      }
      this.#acting = undefined;
    })();
  }

  async #settled(): Promise<void> {
    while (this.#acting !== undefined) await this.#acting;
  }
}
