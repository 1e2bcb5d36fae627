import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignJobs, type AssignableJob, type AssignmentCandidate, type JobAssignment } from '../../../runtime/cluster/job-assignment.ts';
import { seededRandom } from '../../support/seeded-random.ts';

const unit = (...names: string[]): AssignableJob[] => names.map((name) => ({ name, weight: 1 }));
const plain = (a: JobAssignment) => ({ byMember: Object.fromEntries(a.byMember), moves: a.moves });

/** Load of every member of an assignment. */
function loads(a: JobAssignment, jobs: readonly AssignableJob[]): Map<string, number> {
  const weight = new Map(jobs.map((j) => [j.name, j.weight]));
  return new Map([...a.byMember].map(([id, names]) => [id, names.reduce((sum, n) => sum + weight.get(n)!, 0)]));
}

/**
 * The balance rule, checked from the outside: for a most loaded member A and a least loaded member B, no job on A
 * weighs less than load(A) − load(B) (moving it would strictly shrink their gap). With `everyMember`, the same for
 * every member in place of A, which the implementation also guarantees (see the heavy-job test).
 */
function balanced(byMember: ReadonlyMap<string, readonly string[]>, jobs: readonly AssignableJob[], everyMember = true): boolean {
  const weight = new Map(jobs.map((j) => [j.name, j.weight]));
  const load = (names: readonly string[]) => names.reduce((sum, n) => sum + weight.get(n)!, 0);
  const all = [...byMember.values()].map(load);
  if (all.length === 0) return true;
  const max = Math.max(...all);
  const min = Math.min(...all);
  for (const names of byMember.values()) {
    if (!everyMember && load(names) !== max) continue;
    if (names.some((n) => weight.get(n)! < load(names) - min)) return false;
  }
  return true;
}

test('a fresh group gets every job once, heaviest first on the least loaded member', () => {
  const jobs = [{ name: 'big', weight: 5 }, { name: 'mid', weight: 4 }, { name: 'x', weight: 3 }, { name: 'y', weight: 3 },
    { name: 'two', weight: 2 }, { name: 'one', weight: 1 }];
  const result = assignJobs(['c', 'a', 'b'].map((memberId) => ({ memberId, owned: [] })), jobs);
  // big→a (5), mid→b (4), x→c (3), y→c (6), two→b (6), one→a (6).
  assert.deepEqual(plain(result).byMember, { a: ['big', 'one'], b: ['mid', 'two'], c: ['x', 'y'] });
  assert.deepEqual([...result.byMember.keys()], ['a', 'b', 'c'], 'members in memberId order');
  assert.equal(result.moves.length, 6);
  assert.ok(result.moves.every((m) => m.from === undefined));
  assert.deepEqual([...loads(result, jobs).values()], [6, 6, 6]);
});

test('a 4th member joining 3 members with 2 equal jobs each takes exactly 1 job: 6 jobs over 4 members is 2,2,1,1', () => {
  const members: AssignmentCandidate[] = [
    { memberId: 'a', owned: ['a1', 'a2'] }, { memberId: 'b', owned: ['b1', 'b2'] }, { memberId: 'c', owned: ['c1', 'c2'] },
    { memberId: 'd', owned: [] },
  ];
  const result = assignJobs(members, unit('a1', 'a2', 'b1', 'b2', 'c1', 'c2'));
  assert.deepEqual(plain(result), {
    byMember: { a: ['a2'], b: ['b1', 'b2'], c: ['c1', 'c2'], d: ['a1'] },
    moves: [{ job: 'a1', from: 'a', to: 'd' }],
  });
});

test('2 members joining 4 members with 3 equal jobs each take 2 jobs each: 4 moves, one from each old member', () => {
  const old = ['a', 'b', 'c', 'd'];
  const members = [...old.map((id) => ({ memberId: id, owned: [`${id}1`, `${id}2`, `${id}3`] })), { memberId: 'e', owned: [] },
    { memberId: 'f', owned: [] }];
  const result = assignJobs(members, unit(...old.flatMap((id) => [`${id}1`, `${id}2`, `${id}3`])));
  assert.deepEqual(plain(result), {
    byMember: { a: ['a2', 'a3'], b: ['b2', 'b3'], c: ['c2', 'c3'], d: ['d2', 'd3'], e: ['a1', 'c1'], f: ['b1', 'd1'] },
    moves: [{ job: 'a1', from: 'a', to: 'e' }, { job: 'b1', from: 'b', to: 'f' }, { job: 'c1', from: 'c', to: 'e' },
      { job: 'd1', from: 'd', to: 'f' }],
  });
});

test('a member leaving moves only its own jobs, and they count as unowned (from: undefined)', () => {
  const members = [{ memberId: 'a', owned: ['a1', 'a2'] }, { memberId: 'b', owned: ['b1', 'b2'] }];
  const result = assignJobs(members, unit('a1', 'a2', 'b1', 'b2', 'c1', 'c2'));
  assert.deepEqual(plain(result), {
    byMember: { a: ['a1', 'a2', 'c1'], b: ['b1', 'b2', 'c2'] },
    moves: [{ job: 'c1', from: undefined, to: 'a' }, { job: 'c2', from: undefined, to: 'b' }],
  });
});

test('an already balanced assignment stays as it is, even where a fresh one would differ', () => {
  const jobs = [{ name: 'p', weight: 5 }, { name: 'q', weight: 3 }, { name: 'r', weight: 2 }, { name: 's', weight: 4 }];
  // Loads 5+2 = 7 and 3+4 = 7; from scratch p and s would share nothing with this.
  const members = [{ memberId: 'm1', owned: ['r', 'p'] }, { memberId: 'm2', owned: ['s', 'q'] }];
  assert.deepEqual(plain(assignJobs(members, jobs)), { byMember: { m1: ['p', 'r'], m2: ['q', 's'] }, moves: [] });
});

test('rebalancing moves the job that best evens the gap, and stops when no move shrinks it', () => {
  const jobs = [{ name: 'six', weight: 6 }, { name: 'four', weight: 4 }, { name: 'one', weight: 1 }];
  const result = assignJobs([{ memberId: 'a', owned: ['six', 'four', 'one'] }, { memberId: 'b', owned: [] }], jobs);
  // Gap 11: moving six leaves |11 − 12| = 1, four leaves 3, one leaves 9. Then 5 vs 6: nothing is lighter than 1.
  assert.deepEqual(plain(result), { byMember: { a: ['four', 'one'], b: ['six'] }, moves: [{ job: 'six', from: 'a', to: 'b' }] });
  // A single job heavier than the whole gap never moves: the gap is 10 and moving it would just flip it.
  const heavy = assignJobs([{ memberId: 'a', owned: ['big'] }, { memberId: 'b', owned: [] }], [{ name: 'big', weight: 10 }]);
  assert.deepEqual(plain(heavy), { byMember: { a: ['big'], b: [] }, moves: [] });
});

test('a most loaded member with only one heavy job does not keep a joining member idle', () => {
  // Beyond the letter of "most loaded → least loaded": a (10) cannot give its job to c (0), but b (3 + 3) can.
  const jobs = [{ name: 'big', weight: 10 }, { name: 'x', weight: 3 }, { name: 'y', weight: 3 }];
  const members = [{ memberId: 'a', owned: ['big'] }, { memberId: 'b', owned: ['x', 'y'] }, { memberId: 'c', owned: [] }];
  assert.deepEqual(plain(assignJobs(members, jobs)), {
    byMember: { a: ['big'], b: ['y'], c: ['x'] },
    moves: [{ job: 'x', from: 'b', to: 'c' }],
  });
});

test('a job claimed by two members stays on the less loaded claimant (ties: lower memberId); deleted jobs are ignored', () => {
  const jobs = unit('j1', 'j2', 'j3');
  // a runs j1 and j2 already; b, back from a partition, still claims j1: j1 stays on b, the lighter claimant.
  const stale = assignJobs([{ memberId: 'a', owned: ['j1', 'j2'] }, { memberId: 'b', owned: ['j1', 'deleted'] }], jobs);
  assert.deepEqual(plain(stale), { byMember: { a: ['j2', 'j3'], b: ['j1'] }, moves: [{ job: 'j3', from: undefined, to: 'a' }] });
  // Equal loads: the lower memberId keeps it, and the loser gets no move (j1 just is not in its list).
  const tie = assignJobs([{ memberId: 'b', owned: ['j1', 'j3'] }, { memberId: 'a', owned: ['j1', 'j2'] }], jobs);
  assert.deepEqual(plain(tie), { byMember: { a: ['j1', 'j2'], b: ['j3'] }, moves: [] });
  // The kept copy is the one a move starts from when balance then needs the job elsewhere.
  const moved = assignJobs([{ memberId: 'a', owned: ['j1', 'j2', 'j3'] }, { memberId: 'b', owned: ['j1', 'j2', 'j3'] },
    { memberId: 'c', owned: [] }], jobs);
  // j1 → a (0 vs 0, lower id), j2 → b (1 vs 0), j3 → a (1 vs 1); then a (2) hands j1 to c (0).
  assert.deepEqual(plain(moved), {
    byMember: { a: ['j3'], b: ['j2'], c: ['j1'] },
    moves: [{ job: 'j1', from: 'a', to: 'c' }],
  });
});

test('no members: every job is unassigned, byMember is empty and nothing moves', () => {
  assert.deepEqual(plain(assignJobs([], unit('a', 'b'))), { byMember: {}, moves: [] });
  assert.deepEqual(plain(assignJobs([{ memberId: 'only', owned: ['gone'] }], [])), { byMember: { only: [] }, moves: [] });
});

test('invalid input is refused with SLUICE_CLUSTER_INVALID_ASSIGNMENT and says what is wrong', () => {
  const refused = (members: AssignmentCandidate[], jobs: AssignableJob[], message: RegExp) =>
    assert.throws(() => assignJobs(members, jobs), { name: 'SluiceError', code: 'SLUICE_CLUSTER_INVALID_ASSIGNMENT', retriable: false, message });
  refused([{ memberId: 'a', owned: [] }, { memberId: 'a', owned: [] }], [], /member id "a" appears twice/);
  refused([], unit('j', 'j'), /job name "j" appears twice/);
  for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
    refused([], [{ name: 'w', weight }], new RegExp(`job "w" has weight ${String(weight)}; a weight must be a positive finite number`));
  }
});

test('1000 jobs over 50 members, all starting on one member, are balanced quickly', () => {
  const random = seededRandom(7);
  const jobs = Array.from({ length: 1000 }, (_, i) => ({ name: `job-${i}`, weight: 1 + Math.floor(random() * 32) }));
  const members = Array.from({ length: 50 }, (_, i) => ({ memberId: `m-${i}`, owned: i === 0 ? jobs.map((j) => j.name) : [] }));
  const started = performance.now();
  const skewed = assignJobs(members, jobs);
  const fresh = assignJobs(members.map((m) => ({ ...m, owned: [] })), jobs);
  const contested = assignJobs(members.map((m) => ({ ...m, owned: jobs.filter(() => random() < 0.05).map((j) => j.name) })), jobs);
  const elapsed = performance.now() - started;
  for (const result of [skewed, fresh, contested]) assert.ok(balanced(result.byMember, jobs));
  assert.ok(elapsed < 2_000, `took ${elapsed.toFixed(0)} ms`);
});

// ---- Property test -------------------------------------------------------------------------------------------------

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const k = Math.floor(random() * (i + 1));
    [out[i], out[k]] = [out[k]!, out[i]!];
  }
  return out;
}

/**
 * With equal weights, the fewest jobs any balanced assignment (job counts differ by at most 1) must take from their
 * claimants: the members claiming the most keep up to ⌈T / m⌉, the others up to ⌊T / m⌋.
 */
function fewestMoves(claimed: readonly number[], total: number): number {
  const q = Math.floor(total / claimed.length);
  const r = total % claimed.length;
  return [...claimed].sort((x, y) => y - x).reduce((sum, c, i) => sum + Math.max(0, c - (i < r ? q + 1 : q)), 0);
}

test('property: random groups through random membership changes stay covered, deterministic, balanced and sticky', () => {
  const stats = { rounds: 0, contested: 0, equalChecked: 0, leaves: 0, leavesWithSurvivorMoves: 0, stickyMoves: 0 };
  for (let seed = 1; seed <= 300; seed++) {
    const random = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const kind = pick(['equal', 'small', 'wide'] as const);
    const weightOf = () => (kind === 'equal' ? 3 : kind === 'small' ? 1 + Math.floor(random() * 4) : 1 + Math.floor(random() * 100));
    let nextJob = 0;
    let nextMember = 0;
    const newJob = (): AssignableJob => ({ name: `job-${nextJob++}`, weight: weightOf() });
    let jobs = Array.from({ length: Math.floor(random() * 40) }, newJob);
    let owned = new Map<string, readonly string[]>(Array.from({ length: 1 + Math.floor(random() * 6) }, () => [`m-${nextMember++}`, []]));
    const departed = new Map<string, readonly string[]>();

    for (let round = 0; round < 12; round++) {
      stats.rounds++;
      const change = pick(['leave', 'leave', 'join', 'join', 'stale', 'jobs', 'none'] as const);
      const before = new Map(owned);
      let leaver: string | undefined;
      if (change === 'leave' && owned.size > 1) {
        leaver = pick([...owned.keys()]);
        departed.set(leaver, owned.get(leaver)!);
        owned.delete(leaver);
      } else if (change === 'join') {
        for (let n = 1 + Math.floor(random() * 2); n > 0; n--) owned.set(`m-${nextMember++}`, []);
      } else if (change === 'stale' && departed.size > 0) {
        const back = pick([...departed.keys()]); // comes back claiming what it ran before it left
        owned.set(back, departed.get(back)!);
        departed.delete(back);
      } else if (change === 'jobs') {
        jobs = [...jobs.filter(() => random() < 0.8), ...Array.from({ length: Math.floor(random() * 6) }, newJob)];
      }
      const members = [...owned].map(([memberId, names]) => ({ memberId, owned: names }));
      const result = assignJobs(members, jobs);
      const label = `seed ${seed} round ${round} (${kind} weights, ${change})`;
      const holder = new Map<string, string>();

      // Coverage: every member listed with sorted names; every job on exactly one member; nothing else.
      assert.deepEqual([...result.byMember.keys()], [...owned.keys()].sort(), label);
      for (const [id, names] of result.byMember) {
        assert.deepEqual(names, [...names].sort(), label);
        for (const name of names) {
          assert.ok(!holder.has(name), `${label}: ${name} assigned twice`);
          holder.set(name, id);
        }
      }
      assert.deepEqual([...holder.keys()].sort(), jobs.map((j) => j.name).sort(), `${label}: coverage`);

      // Moves: exactly the jobs not left with a current claimant; `from` is a claimant, or undefined if none.
      const claimants = (name: string) => members.filter((m) => m.owned.includes(name)).map((m) => m.memberId);
      for (const job of jobs) {
        const move = result.moves.find((m) => m.job === job.name);
        const claim = claimants(job.name);
        if (move === undefined) assert.ok(claim.includes(holder.get(job.name)!), `${label}: ${job.name} moved silently`);
        else {
          assert.equal(move.to, holder.get(job.name), label);
          assert.ok(move.from === undefined ? claim.length === 0 : claim.includes(move.from) && move.from !== move.to, label);
        }
      }

      // Determinism: the same input in any order gives the same output.
      const reordered = shuffled(members, random).map((m) => ({ ...m, owned: shuffled(m.owned, random) }));
      assert.deepEqual(plain(assignJobs(reordered, shuffled(jobs, random))), plain(result), `${label}: order matters`);

      // Balance: no job on a most loaded member (nor, stronger, on any member) is lighter than its lead over the least.
      assert.ok(balanced(result.byMember, jobs, false), `${label}: unbalanced`);
      assert.ok(balanced(result.byMember, jobs, true), `${label}: some member could still hand a job to the least loaded`);

      // Stickiness 1: a balanced assignment fed back is a fixed point.
      const again = assignJobs([...result.byMember].map(([memberId, names]) => ({ memberId, owned: names })), jobs);
      assert.deepEqual(plain(again), { byMember: plain(result).byMember, moves: [] }, `${label}: not a fixed point`);

      const sticky = result.moves.filter((m) => m.from !== undefined);
      stats.stickyMoves += sticky.length;
      const contested = jobs.some((j) => claimants(j.name).length > 1);
      if (contested) stats.contested++;
      // Stickiness 2 (equal weights, no job claimed twice): exactly as many jobs leave their claimants as any balanced
      // assignment must take from them, no more. After a leave from a balanced group that is 0: only the leaver's jobs
      // move; after a join it is what the newcomers need.
      if (kind === 'equal' && !contested) {
        const live = new Set(jobs.map((j) => j.name));
        const claimed = members.map((m) => m.owned.filter((n) => live.has(n)).length);
        stats.equalChecked++;
        assert.equal(sticky.length, fewestMoves(claimed, jobs.length), `${label}: more moves than balance needs`);
      }
      // Stickiness 3 (any weights): after a member leaves a balanced group, a survivor's job moves only if putting that
      // one job back would break the balance rule (the move was needed, given where the leaver's jobs went).
      if (leaver !== undefined && round > 0 && balanced(new Map(before), jobs)) {
        stats.leaves++;
        if (sticky.length > 0) stats.leavesWithSurvivorMoves++;
        if (kind === 'equal') assert.deepEqual(sticky, [], `${label}: a survivor's job moved`);
        for (const move of sticky) {
          const undone = new Map([...result.byMember].map(([id, names]) => [id, names.filter((n) => n !== move.job)]));
          undone.get(move.from!)!.push(move.job);
          assert.ok(!balanced(undone, jobs), `${label}: ${move.job} left ${move.from} though balance did not need it`);
        }
      }
      owned = new Map(result.byMember);
    }
  }
  const { contested, equalChecked, leaves, leavesWithSurvivorMoves, stickyMoves } = stats;
  assert.ok(contested > 50 && equalChecked > 500 && leaves > 300 && leavesWithSurvivorMoves > 50 && stickyMoves > 1000,
    `the random rounds exercised too little: ${JSON.stringify(stats)}`);
});
