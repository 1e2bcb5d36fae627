import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner } from '../../../runtime/runner/index.ts';
import { loadWorker } from '../../../runtime/workers/start-worker.ts';
import { sharedWorkerPool, WorkerPool } from '../../../runtime/workers/worker-pool.ts';
import { SETUP_KEY } from '../../../runtime/workers/worker-setup.ts';
import { tempDir } from '../../support/temp-dir.ts';
import keyedCount from './fixtures/keyed-count.ts';

test('a spare boots ahead, is handed out once, per resource limits, and runs the attempt it is given with its setup', async (t) => {
  const pool = new WorkerPool();
  t.after(() => pool.close());
  pool.keepReady(2, undefined);
  assert.equal(pool.spares(undefined), 2);
  assert.equal(pool.spares({ maxOldGenerationSizeMb: 64 }), 0, 'a thread is booted with its resource limits: spares are per limits');
  pool.keepReady(1, undefined);
  assert.equal(pool.spares(undefined), 2, 'keepReady tops up, it does not add');

  const worker = pool.take(undefined);
  assert.equal(pool.spares(undefined), 1);
  // A stand-in for a worker bundle: reports the setup the worker was loaded with.
  const dir = await tempDir(t);
  const entry = join(dir, 'report-setup.mjs');
  await writeFile(entry, `import { parentPort } from 'node:worker_threads';\nparentPort.postMessage(globalThis[Symbol.for(${JSON.stringify(SETUP_KEY)})]);\n`);
  const reply = once(worker.thread, 'message');
  loadWorker(worker, entry, { jobModule: 'file:///job.ts', worker: 3 }, []);
  assert.deepEqual((await reply)[0], { jobModule: 'file:///job.ts', worker: 3 });
  await worker.thread.terminate();
});

test('spares never keep a process alive: a process that only booted spares exits on its own', async () => {
  const poolModule = fileURLToPath(new URL('../../../runtime/workers/worker-pool.ts', import.meta.url));
  // The child reports its spares a while later (a spare that fails to boot is dropped), then has nothing left to do.
  const script = `import { sharedWorkerPool } from ${JSON.stringify(poolModule)};
    const pool = sharedWorkerPool();
    pool.keepReady(2, undefined);
    setTimeout(() => process.stdout.write(String(pool.spares(undefined))), 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  // A spare that held the event loop would keep the child for its 30 s idle time; this kill is only a backstop.
  const backstop = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(backstop);
  assert.deepEqual({ out, code, signal }, { out: '2', code: 0, signal: null });
});

test('an attempt on workers that fails leaves booted workers for its restart', async (t) => {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const runner = new JobRunner({
    job: keyedCount as JobDefinition,
    params: new JobParams([['output', join(dir, 'out')], ['records', '10000'], ['rate', '20000'], ['exitAfter', '4000']]),
    store,
    workers: 2,
    jobModule: new URL('./fixtures/keyed-count.ts', import.meta.url),
  });
  const sparesAtFailure: number[] = [];
  runner.events.subscribe((e) => {
    if (e.type === 'attempt-failed') sparesAtFailure.push(sharedWorkerPool().spares(undefined));
  });
  assert.equal(await runner.run(), 'finished');
  assert.equal(runner.attempts, 2);
  assert.deepEqual(sparesAtFailure, [2], 'two workers booted for the restart when the attempt failed');
});
