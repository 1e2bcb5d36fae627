import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectSink, datagen } from '../../../connectors/dev/index.ts';
import { defineJob, Stream, valueState, type JobDefinition, type Source, type StreamEnvironment } from '../../../runtime/api/index.ts';
import { isSluiceError } from '../../../runtime/errors/index.ts';
import { buildPhysicalPlan, JobValidationError, type PhysicalPlan } from '../../../runtime/graph/index.ts';

const numbers = (): Source<number> => datagen({ count: 10, record: (i) => i });
const word = (i: number): { word: string; n: number } => ({ word: `w${i % 3}`, n: 1 });

/** Uids of each stage, in order: the shape a user reads in the plan. */
function stageUids(plan: PhysicalPlan): string[][] {
  return plan.stages.map((s) => s.operators.map((o) => o.uid));
}

function expectInvalid(job: JobDefinition): JobValidationError {
  let caught: unknown;
  try {
    buildPhysicalPlan(job);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof JobValidationError, `expected a JobValidationError, got ${String(caught)}`);
  assert.ok(isSluiceError(caught, 'SLUICE_INVALID_JOB'));
  return caught;
}

test('a job with several problems fails with one error that names every problem', () => {
  let readersCreated = 0;
  const counted: Source<number> = {
    name: 'counted',
    bounded: true,
    createReader: () => {
      readersCreated++;
      throw new Error('validation must happen before anything runs');
    },
  };
  const job = defineJob({ name: 'many-problems', maxParallelism: 8 }, (env) => {
    // 1. A pipeline without a sink.
    env.source(counted).uid('src-a').map((n) => n + 1).uid('dangling');
    // 2. Two operators with the same uid.
    env.source(numbers()).uid('src-b').map((n) => n * 2).uid('dup').filter((n) => n > 0).uid('dup').sink(collectSink());
    // 3. Parallelism above maxParallelism.
    env.source(numbers()).uid('src-c').map((n) => n).uid('too-wide').parallelism(16).sink(collectSink()).uid('sink-c');
    // 4. A keyed operator (reduce) whose input is not keyed: only reachable by going around the DSL.
    const plain = env.source(numbers()).uid('src-d');
    const recorder = (plain as any).recorder;
    const reduceId: number = recorder.add({
      kind: 'reduce',
      name: 'reduce',
      fn: (a: number, b: number) => a + b,
      input: { node: (plain as any).nodeId, partitioning: 'forward' },
    });
    new Stream<number>(recorder, reduceId).uid('unkeyed-reduce').sink(collectSink()).uid('sink-d');
    // 5. State declared in a non-keyed process.
    env
      .source(numbers())
      .uid('src-e')
      .process({ state: { count: valueState<number>() }, processElement: (n: number) => n } as any)
      .uid('stateful-unkeyed')
      .sink(collectSink())
      .uid('sink-e');
    // 6. An invalid state declaration in a keyed process.
    env
      .source(numbers())
      .uid('src-f')
      .keyBy((n) => n % 2)
      .process({ state: { bogus: { kind: 'counter' } } as any, processElement: (n: number) => n })
      .uid('bad-state')
      .sink(collectSink())
      .uid('sink-f');
  });

  const error = expectInvalid(job);
  const expected: Array<[string, RegExp]> = [
    ['missing sink', /pipeline ending at "dangling" has no sink/],
    ['duplicate uid', /uid "dup" is used by two operators/],
    ['parallelism > maxParallelism', /parallelism 16 of operator "too-wide" exceeds maxParallelism 8/],
    ['keyed operator without keyBy', /operator "unkeyed-reduce" \(reduce\) is keyed but its input is not/],
    ['state outside a keyed context', /operator "stateful-unkeyed" declares state \(count\) outside a keyed context/],
    ['invalid state declaration', /operator "bad-state" declares state "bogus" that is not a valueState\(\), mapState\(\) or listState\(\)/],
  ];
  for (const [what, pattern] of expected) {
    const matching = error.problems.filter((p) => pattern.test(p));
    assert.equal(matching.length, 1, `exactly one problem should report the ${what}; problems:\n${error.problems.join('\n')}`);
    // The message lists it too (what the CLI prints).
    assert.ok(error.message.includes(matching[0] as string), `the message should list the ${what}:\n${error.message}`);
  }
  assert.equal(error.problems.length, expected.length, `no other problems expected:\n${error.problems.join('\n')}`);
  assert.match(error.message, /^job "many-problems" is invalid \(6 problems\):/);
  assert.equal(readersCreated, 0);
});

test('a job without any source is rejected', () => {
  const error = expectInvalid(defineJob({ name: 'empty' }, () => {}));
  assert.equal(error.problems.length, 1);
  assert.match(error.problems[0] as string, /defines no source/);
});

test('an invalid job-wide parallelism or maxParallelism is reported with the rest', () => {
  const job = defineJob({ name: 'bad-options', parallelism: 0, maxParallelism: 40_000 }, (env) => {
    env.source(numbers()).sink(collectSink());
  });
  const error = expectInvalid(job);
  assert.ok(error.problems.some((p) => /maxParallelism must be an integer from 1 to 32768, got 40000/.test(p)), error.message);
  assert.ok(error.problems.some((p) => /parallelism of the job must be a positive integer, got 0/.test(p)), error.message);
  // A CLI override above maxParallelism is caught the same way.
  const ok = defineJob({ name: 'ok', maxParallelism: 4 }, (env) => {
    env.source(numbers()).sink(collectSink());
  });
  assert.throws(() => buildPhysicalPlan(ok, { parallelism: 5 }), (err: unknown) => {
    assert.ok(err instanceof JobValidationError);
    assert.match(err.message, /parallelism 5 of the job exceeds maxParallelism 4/);
    return true;
  });
});

test('forward edges chain into one stage', () => {
  const job = defineJob({ name: 'forward', parallelism: 3 }, (env) => {
    env
      .source(numbers())
      .map((n) => n + 1)
      .filter((n) => n % 2 === 0)
      .flatMap((n) => [n, n])
      .process({ processElement: (n) => n })
      .sink(collectSink());
  });
  const plan = buildPhysicalPlan(job);
  assert.deepEqual(stageUids(plan), [['source-0', 'map-1', 'filter-2', 'flatMap-3', 'process-4', 'sink-5']]);
  const [stage] = plan.stages;
  assert.equal(stage?.parallelism, 3);
  assert.deepEqual(stage?.inputs, []);
  assert.deepEqual(stage?.outputs, []);
});

test('keyBy splits a stage with a hash edge at parallelism > 1', () => {
  const selector = (w: { word: string }): string => w.word;
  const job = defineJob({ name: 'keyed', parallelism: 2 }, (env) => {
    env
      .source(datagen({ count: 10, record: word }))
      .map((w) => w)
      .keyBy(selector)
      .reduce((a, b) => ({ word: a.word, n: a.n + b.n }))
      .map((w) => w.n)
      .sink(collectSink());
  });
  const plan = buildPhysicalPlan(job);
  assert.deepEqual(stageUids(plan), [
    ['source-0', 'map-1'],
    ['reduce-2', 'map-3', 'sink-4'],
  ]);
  const [first, second] = plan.stages;
  assert.deepEqual(first?.outputs, [1]);
  assert.equal(second?.inputs[0]?.stage, 0);
  assert.equal(second?.inputs[0]?.partitioning, 'hash');
  assert.equal(second?.inputs[0]?.partitioning === 'hash' ? second.inputs[0].keySelector : undefined, selector);
  assert.equal(second?.operators[0]?.keySelector, selector);
  assert.deepEqual(plan.stages.map((s) => s.parallelism), [2, 2]);
});

test('at parallelism 1 a keyBy chains (every key group is on subtask 0) and the operator stays keyed', () => {
  const job = defineJob({ name: 'keyed-p1' }, (env) => {
    env
      .source(datagen({ count: 10, record: word }))
      .keyBy((w) => w.word)
      .reduce((a, b) => ({ word: a.word, n: a.n + b.n }))
      .sink(collectSink());
  });
  const plan = buildPhysicalPlan(job);
  assert.deepEqual(stageUids(plan), [['source-0', 'reduce-1', 'sink-2']]);
  assert.equal(typeof plan.stages[0]?.operators[1]?.keySelector, 'function');
  // The same job at parallelism 2 (CLI override) splits.
  assert.deepEqual(stageUids(buildPhysicalPlan(job, { parallelism: 2 })), [['source-0'], ['reduce-1', 'sink-2']]);
});

test('rebalance splits a stage even at equal parallelism', () => {
  const job = defineJob({ name: 'rebalanced', parallelism: 2 }, (env) => {
    env.source(numbers()).map((n) => n).rebalance().map((n) => n + 1).sink(collectSink());
  });
  const plan = buildPhysicalPlan(job);
  assert.deepEqual(stageUids(plan), [['source-0', 'map-1'], ['map-2', 'sink-3']]);
  assert.deepEqual(plan.stages[1]?.inputs[0], { stage: 0, partitioning: 'rebalance' });
  // Even at parallelism 1: rebalance asks for a channel.
  assert.equal(buildPhysicalPlan(job, { parallelism: 1 }).stages.length, 2);
});

test('a per-operator parallelism splits the chain where it differs', () => {
  const job = defineJob({ name: 'mixed', parallelism: 2 }, (env) => {
    env
      .source(numbers())
      .parallelism(1)
      .map((n) => n)
      .parallelism(1)
      .map((n) => n * 2)
      .parallelism(4)
      .filter((n) => n > 0)
      .parallelism(4)
      .sink(collectSink());
  });
  const plan = buildPhysicalPlan(job);
  assert.deepEqual(stageUids(plan), [['source-0', 'map-1'], ['map-2', 'filter-3'], ['sink-4']]);
  assert.deepEqual(plan.stages.map((s) => s.parallelism), [1, 4, 2]);
  assert.deepEqual(plan.stages.map((s) => s.inputs[0]?.partitioning), [undefined, 'rebalance', 'rebalance']);
  // A CLI override changes the default, not explicit settings.
  assert.deepEqual(buildPhysicalPlan(job, { parallelism: 3 }).stages.map((s) => s.parallelism), [1, 4, 3]);
});

test('uids default from the operator position; explicit uids are kept', () => {
  const job = defineJob({ name: 'uids', parallelism: 2 }, (env) => {
    env
      .source(datagen({ count: 10, record: word }))
      .uid('words')
      .map((w) => w)
      .keyBy((w) => w.word)
      .reduce((a, b) => ({ word: a.word, n: a.n + b.n }))
      .uid('counts')
      .name('count per word')
      .sink(collectSink());
    env.source(numbers()).sink(collectSink()).uid('numbers-out');
  });
  const plan = buildPhysicalPlan(job);
  assert.deepEqual(stageUids(plan), [['words', 'map-1'], ['counts', 'sink-3'], ['source-4', 'numbers-out']]);
  const counts = plan.stages[1]?.operators[0];
  assert.equal(counts?.name, 'count per word');
  assert.equal(counts?.stateful, true);
  assert.equal(plan.stages[0]?.operators[1]?.stateful, false);
  // Planning twice gives the same uids (state is found by uid after a restart).
  assert.deepEqual(stageUids(buildPhysicalPlan(job)), stageUids(plan));
});

test('a keyed process is stateful even without declared state (its timers are checkpointed); a non-keyed one is not', () => {
  const job = defineJob({ name: 'timers-only', parallelism: 2 }, (env) => {
    env
      .source(datagen({ count: 10, record: word }))
      .process({ processElement: (w) => w })
      .uid('plain')
      .keyBy((w) => w.word)
      .process({
        processElement(w, ctx) {
          ctx.timers.registerProcessingTimeTimer(ctx.timers.currentProcessingTime() + 1000);
          return w;
        },
      })
      .uid('timers')
      .sink(collectSink());
  });
  const operators = buildPhysicalPlan(job).stages.flatMap((s) => s.operators);
  assert.equal(operators.find((o) => o.uid === 'plain')?.stateful, false);
  assert.equal(operators.find((o) => o.uid === 'timers')?.stateful, true);
});

test('a graph whose operator reads one that does not come before it (a cycle) is a plan error', () => {
  // The DSL cannot express a cycle (a stream exists only once its input does); the validator guards the graph a
  // recorder holds anyway, so a node pointing forward is reported, not run.
  const error = expectInvalid(
    defineJob({ name: 'cycle' }, (env) => {
      const looped = env.source(numbers()).map((n) => n).uid('loop');
      looped.sink(collectSink()).uid('out');
      const node = looped.recorder.node(looped.nodeId) as { input: { node: number } };
      node.input = { ...node.input, node: looped.nodeId + 1 };
    }),
  );
  assert.ok(error.problems.some((p) => /operator "loop" reads operator #2, which does not come before it: the graph has a cycle/.test(p)), error.problems.join('\n'));
});

test('checkpoints are incremental when asked, and by default on the LevelDB backend (not on the heap backend); full ones on the LevelDB backend are merged from deltas', () => {
  const build = (env: StreamEnvironment) => {
    env.source(numbers()).keyBy((n) => n % 2).reduce((a, b) => a + b).sink(collectSink());
  };
  const incremental = (options: Omit<Parameters<typeof defineJob>[0], 'name'>) => buildPhysicalPlan(defineJob({ name: 'inc', ...options }, build)).incrementalCheckpoints === true;
  assert.equal(incremental({ checkpoints: { intervalMs: 1000 } }), false, 'heap: full by default');
  assert.equal(incremental({ checkpoints: { intervalMs: 1000, incremental: true } }), true);
  assert.equal(incremental({ state: { backend: 'leveldb' }, checkpoints: { intervalMs: 1000 } }), true, 'leveldb: incremental by default');
  const plan = (options: Omit<Parameters<typeof defineJob>[0], 'name'>) => buildPhysicalPlan(defineJob({ name: 'inc', ...options }, build));
  const fullOnLevelDb = plan({ state: { backend: 'leveldb' }, checkpoints: { intervalMs: 1000, incremental: false } });
  assert.equal(fullOnLevelDb.incrementalCheckpoints, true, 'turned off on leveldb: the subtasks still send deltas…');
  assert.equal(fullOnLevelDb.standAloneCheckpoints, true, '…and the store merges them, so each checkpoint stands alone');
  for (const heapFull of [plan({ checkpoints: { intervalMs: 1000 } }), plan({ checkpoints: { intervalMs: 1000, incremental: false } })]) {
    assert.equal(heapFull.standAloneCheckpoints, true, 'heap, full: the store merges what subtasks on workers send as deltas');
    assert.equal(heapFull.incrementalCheckpoints, undefined, 'heap, full: subtasks in the main thread take full snapshots');
  }
  assert.equal(plan({ state: { backend: 'leveldb' }, checkpoints: { intervalMs: 1000 } }).standAloneCheckpoints, undefined);
  assert.equal(plan({ checkpoints: { intervalMs: 1000, incremental: true } }).standAloneCheckpoints, undefined);
  assert.equal(plan({ state: { backend: 'leveldb' } }).standAloneCheckpoints, undefined, 'no checkpoints at all');
  assert.equal(incremental({ state: { backend: 'leveldb' } }), false, 'no checkpoints at all');
});

test('the state backend option: leveldb reaches the plan; a bad backend, cache size, folder or open-file count is a validation problem that says what to write', () => {
  const build = () => (env: StreamEnvironment) => {
    env.source(numbers()).keyBy((n) => n % 2).reduce((a, b) => a + b).sink(collectSink());
  };
  const ok = defineJob({ name: 'state-ok', state: { backend: 'leveldb', cacheBytes: 32 << 20, directory: '/var/tmp', maxOpenFiles: 128 } }, build());
  assert.deepEqual(buildPhysicalPlan(ok).leveldbState, { cacheBytes: 32 << 20, directory: '/var/tmp', maxOpenFiles: 128 });
  assert.deepEqual(buildPhysicalPlan(defineJob({ name: 'state-defaults', state: { backend: 'leveldb' } }, build())).leveldbState, {});
  assert.equal(buildPhysicalPlan(defineJob({ name: 'state-heap', state: { backend: 'heap' } }, build())).leveldbState, undefined);
  const bad = expectInvalid(defineJob({ name: 'state-bad', state: { backend: 'rocksdb' as 'heap', cacheBytes: -1, directory: '' } }, build()));
  assert.match(bad.message, /state\.backend must be 'heap' or 'leveldb', got "rocksdb"/);
  assert.match(bad.message, /state\.cacheBytes must be a positive whole number of bytes/);
  assert.match(bad.message, /state\.directory must be a folder path/);
  for (const maxOpenFiles of [10, 73, 50_001, 100.5]) {
    const few = expectInvalid(defineJob({ name: 'state-files', state: { backend: 'leveldb', maxOpenFiles } }, build()));
    assert.match(few.message, new RegExp(`state\\.maxOpenFiles must be a whole number from 74 to 50000 \\(LevelDB's range; default 1000\\), got ${maxOpenFiles}`));
  }
  const misplaced = expectInvalid(defineJob({ name: 'state-misplaced', state: { backend: 'heap', cacheBytes: 1 << 20 } }, build()));
  assert.match(misplaced.message, /apply to the leveldb backend only/);
  const misplacedFiles = expectInvalid(defineJob({ name: 'state-misplaced-files', state: { backend: 'heap', maxOpenFiles: 100 } }, build()));
  assert.match(misplacedFiles.message, /state\.cacheBytes, state\.directory and state\.maxOpenFiles apply to the leveldb backend only/);
});
