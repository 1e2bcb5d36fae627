import { SluiceError } from '../errors/index.ts';

/** The codes {@link assignJobs} throws (one: its input is invalid, which retrying cannot fix). */
export const JOB_ASSIGNMENT_ERROR_CODES = ['SLUICE_CLUSTER_INVALID_ASSIGNMENT'] as const;

/**
 * A submitted job, as the group leader sees it.
 *
 * @example
 * ```ts
 * const job: AssignableJob = { name: 'orders', weight: 4 * 2 }; // parallelism 4 on 2 worker threads
 * ```
 */
export interface AssignableJob {
  readonly name: string;
  /** What running the job costs a member: parallelism × worker threads (≥ 1). Any positive finite number is accepted. */
  readonly weight: number;
}

/**
 * A group member and the jobs it says it runs now (its view may be stale: another member may claim the same job).
 *
 * @example
 * ```ts
 * const member: AssignmentCandidate = { memberId: 'sluice-1', owned: ['orders', 'clicks'] };
 * ```
 */
export interface AssignmentCandidate {
  readonly memberId: string;
  readonly owned: readonly string[];
}

/**
 * Who runs what after an assignment, and what changed.
 *
 * @example
 * ```ts
 * const result: JobAssignment = {
 *   byMember: new Map([['a', ['orders']], ['b', []]]),
 *   moves: [{ job: 'orders', from: undefined, to: 'a' }],
 * };
 * ```
 */
export interface JobAssignment {
  /** Every member, in memberId order, with the names of its jobs sorted; empty when there are no members. */
  readonly byMember: ReadonlyMap<string, readonly string[]>;
  /**
   * Jobs whose runner changes, by job name. `from` is the member that runs it now (when several claim it: the one whose
   * copy was kept), `undefined` when no present member claims it (a new job, or its member left). A claimant that loses
   * a contested job that stays put gets no move: it just finds the job missing from its list.
   */
  readonly moves: ReadonlyArray<{ job: string; from: string | undefined; to: string }>;
}

/** A member during the computation. */
interface Slot {
  readonly id: string;
  load: number;
  readonly jobs: Set<string>;
}

/**
 * Assigns every job to exactly one member: sticky (a job stays where it runs), balanced by weight, with few moves.
 *
 * 1. Claims: a job claimed by one member stays there; a job claimed by several (a stale member came back) stays on
 *    the claimant with the lowest load (ties: fewer jobs, then memberId). Claimed names not in `jobs` are ignored.
 * 2. Unclaimed jobs, heaviest first, go to the least loaded member (ties: fewer jobs, then memberId).
 * 3. Rebalance: take the most loaded member that holds a job lighter than its lead over the least loaded member, and
 *    move the job that best evens the two; repeat until no member has such a job. So in the end, for every member X
 *    and the least loaded L, each job on X weighs ≥ load(X) − load(L).
 *
 * With no members, nothing can run anything: `byMember` is empty, every job is unassigned and `moves` is empty.
 * The result depends only on the contents of the input, not on the order of members, jobs or owned names.
 *
 * @throws SluiceError `SLUICE_CLUSTER_INVALID_ASSIGNMENT` on duplicate member ids or job names, or a weight that is
 *   not a positive finite number.
 * @example
 * ```ts
 * const jobs = ['j1', 'j2', 'j3', 'j4', 'j5', 'j6'].map((name) => ({ name, weight: 1 }));
 * assignJobs([
 *   { memberId: 'a', owned: ['j1', 'j2'] },
 *   { memberId: 'b', owned: ['j3', 'j4'] },
 *   { memberId: 'c', owned: ['j5', 'j6'] },
 *   { memberId: 'd', owned: [] }, // joins
 * ], jobs);
 * // byMember: a → [j2], b → [j3, j4], c → [j5, j6], d → [j1]; moves: [{ job: 'j1', from: 'a', to: 'd' }]
 * ```
 */
export function assignJobs(members: readonly AssignmentCandidate[], jobs: readonly AssignableJob[]): JobAssignment {
  validate(members, jobs);
  if (members.length === 0) return { byMember: new Map(), moves: [] };

  // Everything below walks members and jobs in a canonical order, so shuffled input takes the very same steps (and
  // sums the same floating-point loads in the same order).
  const sorted = [...members].sort((x, y) => compare(x.memberId, y.memberId));
  const slots: Slot[] = sorted.map((m) => ({ id: m.memberId, load: 0, jobs: new Set<string>() }));
  const ordered = [...jobs].sort((x, y) => y.weight - x.weight || compare(x.name, y.name));
  const weight = new Map(jobs.map((j) => [j.name, j.weight]));

  const claimants = new Map<string, Slot[]>(); // each list in memberId order, as `sorted` is
  sorted.forEach((m, i) => {
    for (const name of new Set(m.owned)) {
      if (!weight.has(name)) continue; // a deleted job: nobody should run it any more
      claimants.set(name, [...(claimants.get(name) ?? []), slots[i]!]);
    }
  });

  const holder = new Map<string, Slot>();
  const give = (name: string, to: Slot): void => {
    const from = holder.get(name);
    if (from !== undefined) {
      from.jobs.delete(name);
      from.load -= weight.get(name)!;
    }
    holder.set(name, to);
    to.jobs.add(name);
    to.load += weight.get(name)!;
  };

  // Uncontested claims first: they are facts, and contested jobs should go where they add the least load on top.
  for (const job of ordered) if (claimants.get(job.name)?.length === 1) give(job.name, claimants.get(job.name)![0]!);
  for (const job of ordered) {
    const list = claimants.get(job.name);
    if (list !== undefined && list.length > 1) give(job.name, leastLoaded(list));
  }
  // Where each job runs now (undefined: nowhere), to tell moves apart from jobs that stayed.
  const origin = new Map<string, string | undefined>(ordered.map((j) => [j.name, holder.get(j.name)?.id]));
  for (const job of ordered) if (!holder.has(job.name)) give(job.name, leastLoaded(slots));

  rebalance(slots, weight, origin, give, ordered.length);

  const byMember = new Map(slots.map((s) => [s.id, [...s.jobs].sort(compare)]));
  const moves = [...origin.keys()].sort(compare)
    .filter((name) => origin.get(name) !== holder.get(name)!.id)
    .map((name) => ({ job: name, from: origin.get(name), to: holder.get(name)!.id }));
  return { byMember, moves };
}

/**
 * Moves jobs from loaded members to the least loaded one while a move strictly shrinks the gap between the two.
 *
 * Each such move (weight w, gap g, 0 < w < g) lowers the sum of squared loads by 2·w·(g − w) > 0, so the loop cannot
 * cycle and ends. Integer weights are summed exactly, so the argument holds for them; `limit` only guards against
 * rounding with fractional weights, and is far above what real inputs take (1000 jobs all on one of 50 members: under
 * 1000 moves). Stopping there still leaves every job assigned once, just possibly less balanced.
 */
function rebalance(slots: Slot[], weight: ReadonlyMap<string, number>, origin: ReadonlyMap<string, string | undefined>,
  give: (name: string, to: Slot) => void, jobCount: number): void {
  const limit = 16 * (jobCount + 1) * slots.length;
  for (let step = 0; step < limit; step++) {
    const receiver = leastLoaded(slots);
    // Most loaded first. A most loaded member whose jobs are all too heavy to move (one big job) must not stop the
    // others from handing work to an idle member, so the search goes on down the list.
    const donors = slots.filter((s) => s !== receiver)
      .sort((x, y) => y.load - x.load || y.jobs.size - x.jobs.size || compare(x.id, y.id));
    let chosen: { name: string; rank: readonly number[] } | undefined;
    for (const donor of donors) {
      const gap = donor.load - receiver.load;
      if (gap <= 0) break;
      for (const name of donor.jobs) {
        const w = weight.get(name)!;
        if (!(w < gap)) continue;
        // Best evening first (the gap left is |gap − 2w|); then a move that undoes or continues one already made
        // rather than a new one; then the lighter job (less to restart); then the name, for determinism.
        const cost = origin.get(name) === receiver.id ? 0 : origin.get(name) !== donor.id ? 1 : 2;
        const rank = [Math.abs(gap - 2 * w), cost, w];
        if (chosen === undefined || before(rank, name, chosen.rank, chosen.name)) chosen = { name, rank };
      }
      if (chosen !== undefined) break;
    }
    if (chosen === undefined) return;
    give(chosen.name, receiver);
  }
}

/** Least load, then fewest jobs, then lowest memberId. */
function leastLoaded(slots: readonly Slot[]): Slot {
  let best = slots[0]!;
  for (const s of slots) {
    if (s.load < best.load || (s.load === best.load && (s.jobs.size < best.jobs.size
      || (s.jobs.size === best.jobs.size && compare(s.id, best.id) < 0)))) best = s;
  }
  return best;
}

function before(rank: readonly number[], name: string, other: readonly number[], otherName: string): boolean {
  for (let i = 0; i < rank.length; i++) if (rank[i] !== other[i]) return rank[i]! < other[i]!;
  return compare(name, otherName) < 0;
}

/** Code-unit order: unlike localeCompare, the same on every machine and locale. */
function compare(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

function validate(members: readonly AssignmentCandidate[], jobs: readonly AssignableJob[]): void {
  const invalid = (message: string) =>
    new SluiceError('SLUICE_CLUSTER_INVALID_ASSIGNMENT', message, { retriable: false });
  const ids = new Set<string>();
  for (const m of members) {
    if (ids.has(m.memberId)) throw invalid(`member id "${m.memberId}" appears twice; each member must be listed once`);
    ids.add(m.memberId);
  }
  const names = new Set<string>();
  for (const j of jobs) {
    if (names.has(j.name)) throw invalid(`job name "${j.name}" appears twice; job names must be unique`);
    names.add(j.name);
    if (typeof j.weight !== 'number' || !Number.isFinite(j.weight) || j.weight <= 0) {
      throw invalid(`job "${j.name}" has weight ${String(j.weight)}; a weight must be a positive finite number `
        + '(parallelism × worker threads)');
    }
  }
}
