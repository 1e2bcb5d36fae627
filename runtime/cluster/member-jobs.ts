import type { Kafka } from 'kafkajs';
import type { CheckpointManifest, CheckpointStore } from '../checkpoint/index.ts';
import { isSluiceError, SluiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { JobEvent, JobRunner } from '../runner/index.ts';
import type { ClusterRun } from '../service/active-jobs.ts';
import type { JobSupervisor } from '../service/job-supervisor.ts';
import { OwnerLease } from '../exec/owner-lease.ts';
import { CheckpointPublisher } from './checkpoints/checkpoint-publisher.ts';
import type { ClusterCheckpointTools } from './checkpoints/checkpoint-tools.ts';
import { prepareStartPoint, type StartPoint } from './checkpoints/start-point.ts';
import type { ClusterJobSpec } from './jobs/cluster-job-spec.ts';
import { writeJobBundle } from './jobs/job-bundle.ts';
import type { ClusterJobStatus, StatusLog } from './jobs/status-log.ts';
import type { ClusterTopics } from './kafka/cluster-topics.ts';
import type { OwnedJob } from './member-protocol.ts';

export interface MemberJobsOptions {
  readonly kafka: Kafka;
  readonly topics: ClusterTopics;
  readonly checkpointPartitions: number;
  readonly dataDir: string;
  readonly store: CheckpointStore;
  /** The checkpoints topic's tools: reading a job's replicated checkpoints, tombstones. */
  readonly tools: ClusterCheckpointTools;
  readonly status: StatusLog;
  /** The member's name, written into claims and status. */
  readonly member: string;
  readonly logger: Logger;
  /** Replicated checkpoints kept per job (savepoints are kept). Default 3. */
  readonly retain?: number;
}

/** A job this member runs: its run's epoch and spec version, and where its checkpoints go. */
interface Run {
  readonly owned: OwnedJob;
  readonly publisher: CheckpointPublisher;
  /** Where sources start instead of restored positions (a `clear` or `catch-up` being applied). */
  readonly sourceStart: 'earliest' | 'latest' | undefined;
  /**
   * Whether this member may still act as the job's owner: the group session's lease while the run lasts, ended when it
   * stops or the membership is lost. Shared with the job's worker threads (its sinks check it before taking
   * transactional ids over).
   */
  readonly lease: OwnerLease;
}

/**
 * The jobs one cluster member runs, kept in step with the leader's assignment: a job assigned to it starts from the
 * latest complete checkpoint in the checkpoints topic, or as a start override set by the checkpoint tools says
 * (start-point.ts); a job
 * taken from it stops with a savepoint, replicated, which its next owner restores. Runs go through the member's
 * {@link JobSupervisor} like a standalone service's, with one difference: every checkpoint is replicated before
 * sinks commit.
 *
 * @example
 * ```ts
 * const jobs = new MemberJobs({ kafka, topics, checkpointPartitions: 1, dataDir, store, tools, status, member: 'm1', logger });
 * jobs.attach(supervisor);
 * const released = await jobs.reconcile(assignment.mine, specs); // true: rejoin so the leader can hand them on
 * ```
 */
export class MemberJobs {
  readonly #options: MemberJobsOptions;
  readonly #runs = new Map<string, Run>();
  #supervisor: JobSupervisor | undefined;
  /** Bumped when the membership is lost: a start in progress then gives up instead of running a job it lost. */
  #losses = 0;
  readonly #lastCheckpoints = new Map<string, NonNullable<ClusterJobStatus['lastCheckpoint']>>();
  #member: string;
  /** The group session's lease as the membership last published it (GroupMembershipOptions.onSessionLease). */
  #sessionUntil = -1n;

  constructor(options: MemberJobsOptions) {
    this.#options = options;
    this.#member = options.member;
  }

  /** The member's name once known (the default name is the REST address, known once the server listens). */
  rename(member: string): void {
    this.#member = member;
  }

  /**
   * The membership's session lease changed (every heartbeat, join and loss): every run's lease follows it. A member
   * stopped past its session finds its runs' leases expired the moment it resumes, in every thread, before its
   * heartbeat loop has run.
   */
  sessionLeaseChanged(until: bigint): void {
    this.#sessionUntil = until;
    for (const run of this.#runs.values()) run.lease.holdUntil(until);
  }

  /** The supervisor that runs the jobs (made after this, since it needs {@link replicatorFor}). */
  attach(supervisor: JobSupervisor): void {
    this.#supervisor = supervisor;
  }

  /** What the member runs now, for its group metadata. */
  owned(): OwnedJob[] {
    return [...this.#runs.values()].map((run) => run.owned);
  }

  /** How the supervisor runs a job this member owns: replicated checkpoints, the owner epoch for sink fencing. */
  clusterRun(name: string): ClusterRun | undefined {
    const run = this.#runs.get(name);
    if (run === undefined) return undefined;
    return { replicateCheckpoint: (manifest) => this.#replicate(name, run, manifest), ownerEpoch: run.owned.epoch, sourceStart: run.sourceStart, ownerLease: run.lease };
  }

  /**
   * Replicates a checkpoint, which then counts (its sinks commit). Ownership is checked again once the checkpoint is in
   * the topic: a member stopped (SIGSTOP, a long pause) while it published, and resumed past its session, must not
   * commit — the next owner may have restored an earlier checkpoint and be replaying that output. A checkpoint in the
   * topic before the session ended is one the next owner restores, since it reads the topic only after taking over.
   */
  async #replicate(name: string, run: Run, manifest: CheckpointManifest): Promise<void> {
    this.#assertOwns(name, run, manifest);
    await run.publisher.publish(manifest);
    this.#assertOwns(name, run, manifest);
    this.#remember(name, manifest);
    void this.#report(name, run.owned, 'running', undefined);
  }

  /** The run's lease ends with the run (stopped, failed, or cleared by a lost membership), so it says it all. */
  #assertOwns(name: string, run: Run, manifest: CheckpointManifest): void {
    if (run.lease.holds()) return;
    throw new SluiceError(
      'SLUICE_CLUSTER_NOT_OWNER',
      `job "${name}" is no longer owned by this member (its group session ended or the job was stopped); its ${manifest.kind} ${manifest.id} does not count and its sinks do not commit it. Nothing to do: the job's next owner restores the latest checkpoint replicated before`,
      { retriable: true },
    );
  }

  /** The job's last replicated checkpoint, which every status this member reports of it carries. */
  #remember(name: string, manifest: CheckpointManifest | undefined): void {
    if (manifest === undefined) this.#lastCheckpoints.delete(name);
    else this.#lastCheckpoints.set(name, { id: manifest.id, kind: manifest.kind, at: manifest.timestamp, bytes: manifest.totalBytes, durationMs: manifest.durationMs });
  }

  /** Told of every runner the supervisor starts: a run that fails for good or finishes is reported and let go. */
  onRunner(name: string, runner: JobRunner): void {
    const subscription = runner.events.subscribe((event: JobEvent) => {
      if (event.type !== 'failed' && event.type !== 'finished') return;
      subscription.unsubscribe();
      const run = this.#runs.get(name);
      if (run === undefined) return;
      this.#runs.delete(name);
      run.lease.end();
      void run.publisher.close().catch(() => undefined);
      const error = event.type === 'failed' ? String((event.error as Error)?.message ?? event.error) : undefined;
      void this.#report(name, run.owned, event.type, error);
    });
  }

  /**
   * Makes the member run exactly `mine`: stops what is no longer its (with a savepoint, replicated) and starts what is
   * new or has a newer spec version. Resolves `true` when it let go of a job, so the caller rejoins the group and the
   * leader can give the job to its next owner.
   */
  async reconcile(mine: readonly OwnedJob[], specs: ReadonlyMap<string, ClusterJobSpec>): Promise<boolean> {
    const wanted = new Map(mine.map((o) => [o.job, o]));
    let released = false;
    for (const [name, run] of [...this.#runs]) {
      const next = wanted.get(name);
      if (next !== undefined && next.version === run.owned.version && next.epoch === run.owned.epoch) continue;
      await this.#stop(name, run, specs.get(name)?.desired === 'cancelled' ? 'cancel' : 'savepoint');
      if (next === undefined) released = true;
    }
    for (const owned of mine) {
      if (this.#runs.has(owned.job)) continue;
      const spec = specs.get(owned.job);
      if (spec === undefined) continue; // deleted since the leader assigned it: the next rebalance drops it
      await this.#start({ ...owned, version: spec.version }, spec);
    }
    return released;
  }

  /**
   * Stops every run: `handover` with savepoints (a member leaving on purpose), `lost` at once and without writing
   * anything (the member lost its membership: another member may own the jobs already).
   */
  async stopAll(mode: 'handover' | 'lost'): Promise<void> {
    const runs = [...this.#runs];
    if (mode === 'lost') {
      this.#losses++;
      this.#runs.clear();
      for (const [, run] of runs) run.lease.end();
    }
    await Promise.all(runs.map(([name, run]) => this.#stop(name, run, mode === 'lost' ? 'fenced' : 'savepoint')));
  }

  async #start(owned: OwnedJob, spec: ClusterJobSpec): Promise<void> {
    const { kafka, topics, checkpointPartitions, dataDir, store, tools, logger } = this.#options;
    const name = spec.name;
    const losses = this.#losses;
    let start: StartPoint;
    try {
      start = await prepareStartPoint({ job: name, epoch: owned.epoch, override: spec.override, store, tools, logger });
    } catch (err) {
      // What trying again cannot fix (an import gone from the topic) fails the job at this version, as a bundle that
      // does not load does; anything else (Kafka unavailable) is tried again with the next rebalance.
      if (!isSluiceError(err) || err.retriable !== false) throw err;
      logger.error({ job: name, err }, `cluster: job "${name}" could not start`);
      await this.#report(name, owned, 'failed', err.message);
      return;
    }
    if (this.#losses !== losses) return; // lost the membership meanwhile: the job is someone else's now
    const publisher = await CheckpointPublisher.open({ kafka, topic: topics.checkpoints, partitions: checkpointPartitions, job: name, epoch: owned.epoch, member: this.#member, store, retain: this.#options.retain ?? 3, override: start.override, view: start.view, logger });
    let claimed = false;
    try {
      if (this.#losses === losses) {
        await publisher.claim(start.basedOn);
        if (start.imported !== undefined) {
          // The imported savepoint is replicated before the run starts: a crash from here on restores it, not the import.
          await publisher.publish(start.imported.manifest);
          await tools.tombstone(name, start.imported.importKeys);
        }
        claimed = true;
      }
    } finally {
      if (!claimed || this.#losses !== losses) await publisher.close().catch(() => undefined);
    }
    if (!claimed || this.#losses !== losses) return;
    const basedOn = start.basedOn;
    this.#remember(name, start.imported?.manifest ?? start.view.candidates.find((r) => basedOn !== null && r.epoch === basedOn.epoch && r.manifest.id === basedOn.id)?.manifest);
    const lease = OwnerLease.create();
    lease.holdUntil(this.#sessionUntil);
    this.#runs.set(name, { owned, publisher, sourceStart: start.sourceStart, lease });
    logger.info({ job: name, epoch: owned.epoch, version: owned.version, restoring: start.basedOn?.id, localCopy: start.localCopy, sourceStart: start.sourceStart }, `cluster: starting job "${name}"`);
    try {
      const path = await writeJobBundle(dataDir, name, { code: spec.code, hash: spec.hash });
      await this.#supervisor!.submit({
        file: path,
        params: spec.params,
        ...(spec.parallelism === undefined ? {} : { parallelism: spec.parallelism }),
        ...(spec.workers === undefined ? {} : { workers: spec.workers }),
        replace: false,
      });
      await this.#report(name, owned, 'running', undefined);
    } catch (err) {
      // Importing the bundle or restoring failed: a fact about the job, not this member; the leader will not assign it again.
      this.#runs.delete(name);
      lease.end();
      await publisher.close().catch(() => undefined);
      logger.error({ job: name, err }, `cluster: job "${name}" could not start`);
      await this.#report(name, owned, 'failed', (err as Error).message);
    }
  }

  async #stop(name: string, run: Run, how: 'savepoint' | 'cancel' | 'fenced'): Promise<void> {
    const supervisor = this.#supervisor!;
    try {
      if (how === 'savepoint') await supervisor.stop(name, { savepoint: true });
      else await supervisor.cancel(name);
    } catch (err) {
      this.#options.logger.warn({ job: name, err }, `cluster: stopping job "${name}" with a savepoint failed; its next owner restores its latest checkpoint`);
      await supervisor.cancel(name).catch(() => undefined);
    }
    this.#runs.delete(name);
    run.lease.end();
    await run.publisher.close().catch(() => undefined);
    if (how !== 'fenced') await this.#report(name, run.owned, 'stopped', undefined);
  }

  async #report(name: string, owned: OwnedJob, state: 'running' | 'failed' | 'finished' | 'stopped', error: string | undefined): Promise<void> {
    const lastCheckpoint = this.#lastCheckpoints.get(name);
    await this.#options.status.write({ job: name, state, version: owned.version, owner: this.#member, epoch: owned.epoch, ...(error === undefined ? {} : { error }), ...(lastCheckpoint === undefined ? {} : { lastCheckpoint }), at: Date.now() });
  }
}
