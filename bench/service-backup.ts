/**
 * Backup and restore of a large checkpoint through the service's REST API, as `sluice checkpoint backup` / `restore`
 * do them (the export streamed: `GET …/checkpoints/export`, `POST …/checkpoints/import`), against the backup
 * document (`GET …/checkpoints/backup`, `POST …/checkpoints/restore`: the export as one base64 JSON string) side by
 * side, on the same service process. Figures: how much the service's peak RSS grew during each (VmHWM, reset before
 * each step), and how long each took.
 *
 * The checkpoint is bench/checkpoint-export.ts's (KEYS keys, default 4M, in a heap backend: a full checkpoint and two
 * of 1% changes, so an export merges every chain). The default keeps the document under the 256 MiB a JSON request
 * may be; with KEYS=10000000 the document's restore is refused and only the streamed one is measured.
 *
 * Run: `npx tsx bench/service-backup.ts` (Linux: reads /proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { fileURLToPath } from 'node:url';
import { emitFigure } from './support/figure.ts';

const KEYS = Number(process.env['KEYS'] ?? 4_000_000);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SLUICE = join(ROOT, 'bin/sluice.js');
/** Job names: bench/checkpoint-export.ts's store holds `large`; imports go to `copy`, a job that ran once and finished. */
const SOURCE_JOB = 'large';
const TARGET_JOB = 'copy';
/** What a JSON request may carry (runtime/service/http-server.ts MAX_BODY_BYTES). */
const MAX_JSON_BODY = 256 * 1024 * 1024;

interface Step {
  growthMiB: number;
  seconds: number;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}: ${err.slice(-800)}`))));
  });
}

async function hwmMiB(pid: number): Promise<{ hwm: number; rss: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { hwm: kb('VmHWM') / 1024, rss: kb('VmRSS') / 1024 };
}

/** Runs `work` with the service's peak RSS reset first: how far the peak rose above the RSS before it. */
async function measured(pid: number, work: () => Promise<unknown>): Promise<Step> {
  await writeFile(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
  const before = (await hwmMiB(pid)).rss;
  const t0 = performance.now();
  await work();
  const seconds = (performance.now() - t0) / 1000;
  return { growthMiB: (await hwmMiB(pid)).hwm - before, seconds };
}

async function startService(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [SLUICE, 'start', '--data-dir', dataDir, '--port', '0'], { cwd: ROOT, stdio: 'ignore' });
  for (let i = 0; i < 300; i++) {
    const info = await readFile(join(dataDir, 'service.json'), 'utf8').catch(() => undefined);
    if (info !== undefined) return { url: (JSON.parse(info) as { url: string }).url, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('the service did not start');
}

const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-backup-'));
let service: { url: string; child: ChildProcess } | undefined;
try {
  await run(['--max-old-space-size=16384', '--import', 'tsx', join(ROOT, 'bench/checkpoint-export.ts'), '--step', 'build', dir], { KEYS: String(KEYS) });
  const dataDir = join(dir, 'store');
  service = await startService(dataDir);
  const pid = service.child.pid!;
  const env = { SLUICE_URL: service.url };
  // The target job: registered, run once (it ends at once), so an import can become its savepoint.
  const jobFile = join(dir, 'copy-job.ts');
  await writeFile(jobFile, `import { defineJob } from '${join(ROOT, 'runtime/api/index.ts')}';\nimport { datagen, collectSink } from '${join(ROOT, 'connectors/dev/index.ts')}';\nexport default defineJob({ name: '${TARGET_JOB}', checkpoints: { intervalMs: 60_000 } }, (env) => { env.source(datagen({ count: 1, record: (i) => ({ i }) })).sink(collectSink()); });\n`);
  await run([SLUICE, 'submit', jobFile], env);

  const exportFile = join(dir, 'backup.sluice-export');
  const backup = await measured(pid, () => run([SLUICE, 'checkpoint', 'backup', SOURCE_JOB, '--output', exportFile], env));
  const exportMiB = (await stat(exportFile)).size / 2 ** 20;
  const documentFile = join(dir, 'backup.json');
  const documentBackup = await measured(pid, async () => {
    const response = await fetch(`${service!.url}/v1/jobs/${SOURCE_JOB}/checkpoints/backup`);
    if (!response.ok || response.body === null) throw new Error(`backup document: ${response.status}`);
    await pipeline(Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>), createWriteStream(documentFile));
  });
  const documentBytes = (await stat(documentFile)).size;
  const restore = await measured(pid, () => run([SLUICE, 'checkpoint', 'restore', TARGET_JOB, '--input', exportFile], env));
  const label = `${KEYS / 1e6}M keys, ${exportMiB.toFixed(0)} MiB export`;
  emitFigure({ name: `service/checkpoint backup, ${label}: service peak RSS growth`, value: backup.growthMiB, unit: 'MiB', baseline: documentBackup.growthMiB, note: `sluice checkpoint backup (export streamed) ${backup.seconds.toFixed(1)} s; baseline: GET …/checkpoints/backup on the same service (a ${(documentBytes / 2 ** 20).toFixed(0)} MiB document) ${documentBackup.seconds.toFixed(1)} s` });
  if (documentBytes <= MAX_JSON_BODY) {
    // GET answers { backup: document }; restore takes the document itself, as the CLI's JSON files held it.
    const body = JSON.stringify((JSON.parse(await readFile(documentFile, 'utf8')) as { backup: unknown }).backup);
    const documentRestore = await measured(pid, async () => {
      const response = await fetch(`${service!.url}/v1/jobs/${TARGET_JOB}/checkpoints/restore`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (!response.ok) throw new Error(`restore of the document: ${response.status} ${await response.text()}`);
    });
    emitFigure({ name: `service/checkpoint restore, ${label}: service peak RSS growth`, value: restore.growthMiB, unit: 'MiB', baseline: documentRestore.growthMiB, note: `sluice checkpoint restore (export streamed to POST …/checkpoints/import) ${restore.seconds.toFixed(1)} s; baseline: the document POSTed to …/checkpoints/restore ${documentRestore.seconds.toFixed(1)} s` });
  } else {
    emitFigure({ name: `service/checkpoint restore, ${label}: service peak RSS growth`, value: restore.growthMiB, unit: 'MiB', baseline: exportMiB, note: `sluice checkpoint restore (export streamed to POST …/checkpoints/import) ${restore.seconds.toFixed(1)} s; the document (${(documentBytes / 2 ** 20).toFixed(0)} MiB) is more than a JSON request may carry, so it cannot be restored; baseline: the export's size` });
  }
} finally {
  if (service !== undefined) {
    service.child.kill('SIGTERM');
    await once(service.child, 'exit');
  }
  await rm(dir, { recursive: true, force: true });
}
