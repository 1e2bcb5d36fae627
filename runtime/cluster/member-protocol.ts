/*
 * What cluster members tell each other through the group protocol (msgpack):
 * - a member's metadata at every JoinGroup: who it is (name, REST url) and the jobs it runs now, with the epoch and
 *   spec version of each run;
 * - the leader's assignment in SyncGroup, the same cluster view for everyone plus each member's own jobs.
 *
 * Handing a job from one live member to another takes two rebalances (as Kafka Connect's incremental cooperative
 * protocol does): the first takes it from its owner, who stops it with a savepoint (replicated) and rejoins without
 * it; the second gives it to the new owner, who restores that savepoint. So two members never run one job at once
 * unless one of them lost its membership, and then fencing keeps the stale one's output out (docs/cluster.md).
 */
import { Packr } from '../serde/msgpackr.ts';
import { assignJobs } from './job-assignment.ts';
import { weightOf, type ClusterJobSpec } from './jobs/cluster-job-spec.ts';

const packr = new Packr({ useRecords: false });

/** A job a member runs: since which owner epoch, at which spec version. */
export interface OwnedJob {
  readonly job: string;
  readonly epoch: number;
  readonly version: number;
}

export interface MemberMetadata {
  /** The member's stable name (`--name`, default host:port): what status shows and logs name. */
  readonly name: string;
  /** Where its REST API listens, for forwarding. */
  readonly url: string;
  readonly owned: readonly OwnedJob[];
  /**
   * Bumped whenever the member needs a rebalance (a job submitted through it, a job it let go). The coordinator starts
   * a rebalance for a follower's JoinGroup only when its metadata changed.
   */
  readonly seq: number;
  /** The member is shutting down: it gets no jobs, and its jobs are handed over once it stopped them. */
  readonly leaving: boolean;
}

/** One member in the cluster view every member receives. */
export interface ViewMember {
  readonly memberId: string;
  readonly name: string;
  readonly url: string;
  readonly jobs: readonly OwnedJob[];
}

export interface MemberAssignment {
  readonly generation: number;
  readonly leader: string;
  readonly members: readonly ViewMember[];
  /** Jobs being handed over: taken from their owner in this generation, given to the next owner in the next one. */
  readonly handingOver: readonly string[];
  /** This member's jobs: start those it does not run (at their epoch), stop those it runs and are not here. */
  readonly mine: readonly OwnedJob[];
}

export const encodeMetadata = (m: MemberMetadata): Uint8Array => packr.pack({ v: 1, ...m });
export const encodeAssignment = (a: MemberAssignment): Uint8Array => packr.pack({ v: 1, ...a });

export function decodeMetadata(bytes: Uint8Array): MemberMetadata {
  const raw = packr.unpack(bytes) as MemberMetadata & { v: number };
  return { name: String(raw.name), url: String(raw.url), owned: Array.isArray(raw.owned) ? raw.owned : [], seq: Number(raw.seq) || 0, leaving: raw.leaving === true };
}

export function decodeAssignment(bytes: Uint8Array): MemberAssignment {
  const raw = packr.unpack(bytes) as MemberAssignment & { v: number };
  return { generation: raw.generation, leader: raw.leader, members: raw.members, handingOver: raw.handingOver ?? [], mine: raw.mine };
}

/**
 * The leader's assignment of a generation: every job that should run goes to one member (sticky, balanced by weight:
 * job-assignment.ts); a job that must move away from a live member is first only taken from it. A job keeps its
 * epoch while it stays with its owner; a job given to a member that did not run it gets the generation as its epoch,
 * so epochs of a job only grow.
 *
 * @example
 * ```ts
 * const byMemberId = planAssignment(members, specs, generation, 'member-1');
 * ```
 */
export function planAssignment(
  members: ReadonlyArray<{ memberId: string; metadata: MemberMetadata }>,
  specs: ReadonlyMap<string, ClusterJobSpec>,
  generation: number,
  leader: string,
): Map<string, MemberAssignment> {
  const wanted = [...specs.values()].filter((spec) => spec.desired === 'running');
  const staying = members.filter((m) => !m.metadata.leaving);
  const { byMember, moves } = assignJobs(
    staying.map((m) => ({ memberId: m.memberId, owned: m.metadata.owned.map((o) => o.job) })),
    wanted.map((spec) => ({ name: spec.name, weight: weightOf(spec) })),
  );
  const ownedBy = new Map(members.map((m) => [m.memberId, new Map(m.metadata.owned.map((o) => [o.job, o]))]));
  // Moves from a member that is still here wait for it to let go (it rejoins without the job); so do the jobs of
  // members that are leaving, until they stopped them with savepoints.
  const handingOver = new Set(moves.filter((move) => move.from !== undefined).map((move) => move.job));
  for (const m of members) if (m.metadata.leaving) for (const o of m.metadata.owned) handingOver.add(o.job);
  const version = (job: string): number => specs.get(job)?.version ?? 0;
  const view: ViewMember[] = members.map((m) => {
    const owned = ownedBy.get(m.memberId)!;
    const jobs = (byMember.get(m.memberId) ?? [])
      .filter((job) => !handingOver.has(job))
      .map((job) => ({ job, epoch: owned.get(job)?.epoch ?? generation, version: version(job) }));
    return { memberId: m.memberId, name: m.metadata.name, url: m.metadata.url, jobs };
  });
  return new Map(view.map((v) => [v.memberId, { generation, leader, members: view, handingOver: [...handingOver].sort(), mine: v.jobs }]));
}
