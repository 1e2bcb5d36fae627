import { formatTable } from './table.ts';
import type { CheckpointRecord, JobStatus, JobSummary } from '../../service/index.ts';

/** `12 ms`, `3.4 s`, `5 m 02 s`, `2 h 05 m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} m`;
}

export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function time(ms: number): string {
  return new Date(ms).toISOString();
}

/** The `sluice list` table. */
export function renderJobList(jobs: readonly JobSummary[]): string {
  if (jobs.length === 0) return 'no jobs registered; submit one with `sluice submit <job.ts>`\n';
  return formatTable(
    ['NAME', 'STATE', 'P', 'ATTEMPT', 'UPTIME', 'LAST CHECKPOINT'],
    jobs.map((j) => [
      j.name,
      j.state,
      j.parallelism === null ? '-' : String(j.parallelism),
      j.attempt === null ? '-' : String(j.attempt),
      j.uptimeMs === null ? '-' : formatDuration(j.uptimeMs),
      j.lastCheckpoint === null ? '-' : `${j.lastCheckpoint.id} (${time(j.lastCheckpoint.timestamp)})`,
    ]),
  );
}

function checkpointRows(list: readonly CheckpointRecord[]): string[][] {
  return list.map((c) => [
    String(c.id),
    c.kind,
    c.incremental === true ? 'incremental' : 'full',
    time(c.timestamp),
    formatDuration(c.durationMs),
    formatBytes(c.totalBytes),
    formatBytes(c.writtenBytes ?? c.totalBytes),
  ]);
}

/** The `sluice status` report: a header, then one table per section that has anything to show. */
export function renderJobStatus(s: JobStatus): string {
  const lines: string[] = [];
  const running = s.attempt !== null;
  const state = running ? `${s.state} (attempt ${s.attempt}, up ${formatDuration(s.uptimeMs ?? 0)})` : s.state;
  const header: Array<[string, string]> = [
    ['job', s.name],
    ['state', state],
    ['parallelism', s.parallelism === null ? 'job default' : String(s.parallelism)],
    ...(s.workers === null ? [] : [['workers', s.workers === 0 ? 'none (in-process)' : String(s.workers)] as [string, string]]),
    ['file', s.file],
  ];
  const params = Object.entries(s.params);
  if (params.length > 0) header.push(['params', params.map(([k, v]) => `${k}=${v}`).join('  ')]);
  if (!running && s.registeredState !== 'finished') {
    const from = s.startFrom.from === 'checkpoint' ? `checkpoint ${s.startFrom.id}` : s.startFrom.from === 'none' ? 'no state' : 'the latest checkpoint';
    const sources = s.sourceStart === null ? '' : `, sources from their ${s.sourceStart} positions`;
    header.push(['next start', `from ${from}${sources}`]);
  }
  if (s.lastSavepoint !== null) header.push(['last savepoint', `${s.lastSavepoint.id} (${time(s.lastSavepoint.takenAt)})`]);
  if (s.lastError !== null) header.push(['error', s.lastError]);
  const width = Math.max(...header.map(([k]) => k.length));
  for (const [k, v] of header) lines.push(`${k.padEnd(width)}  ${v}`);
  const section = (title: string, table: string): void => {
    lines.push('', title, table.trimEnd());
  };
  if (s.operators.length > 0) {
    const lateDrops = s.operators.some((o) => (o.lateRecordsDropped ?? 0) > 0);
    // A service older than this client sends no recordsSkipped.
    const skips = s.operators.some((o) => (o.recordsSkipped ?? 0) > 0);
    // Jobs with keyed state show how many keys each stage holds (a service older than this client sends none).
    const state = s.operators.some((o) => typeof o.stateEntries === 'number');
    // LevelDB jobs show how often each stage's cache served a state read: the figure to size `state.cacheBytes` by.
    const cache = s.operators.some((o) => typeof o.stateCacheHitRatio === 'number');
    section(
      'OPERATORS',
      // Late drops and skips get a column once something was dropped or skipped: counts users watch, not noise before.
      formatTable(
        ['STAGE', 'OPERATORS', 'P', 'IN/S', 'OUT/S', 'IN', 'OUT', 'BACKPRESSURE', ...(state ? ['STATE KEYS'] : []), ...(cache ? ['CACHE HITS'] : []), ...(lateDrops ? ['LATE DROPPED'] : []), ...(skips ? ['SKIPPED'] : [])],
        s.operators.map((o) => [
          String(o.stage), o.operators.join('→'), String(o.parallelism), String(o.recordsInPerSecond), String(o.recordsOutPerSecond), String(o.recordsIn), String(o.recordsOut),
          `${Math.round(o.backpressureRatio * 100)}%`, ...(state ? [typeof o.stateEntries === 'number' ? String(o.stateEntries) : '-'] : []),
          ...(cache ? [typeof o.stateCacheHitRatio === 'number' ? `${(o.stateCacheHitRatio * 100).toFixed(1)}%` : '-'] : []),
          ...(lateDrops ? [String(o.lateRecordsDropped ?? 0)] : []), ...(skips ? [String(o.recordsSkipped ?? 0)] : []),
        ]),
      ),
    );
  }
  if (s.checkpoints.length > 0) section('CHECKPOINTS (newest first)', formatTable(['ID', 'KIND', 'TYPE', 'TIME', 'DURATION', 'SIZE', 'WRITTEN'], checkpointRows(s.checkpoints.slice(0, 10))));
  const failed = s.failedCheckpoints ?? [];
  if (failed.length > 0) section('FAILED CHECKPOINTS (newest first)', formatTable(['ID', 'TIME', 'WHY'], failed.slice(0, 5).map((f) => [String(f.id), time(f.at), f.message.split('\n')[0] ?? ''])));
  if (s.sourceLag.length > 0) section('SOURCE LAG', formatTable(['SOURCE', 'SUBTASK', 'SPLIT', 'LAG'], s.sourceLag.map((l) => [l.source, String(l.subtask), l.split, String(l.lag)])));
  if (s.rescales.length > 0) {
    section('RESCALES', formatTable(['TIME', 'FROM', 'TO', 'TRIGGER', 'CHECKPOINT', 'DURATION', 'REASON'], s.rescales.map((r) => [time(r.startedAt), String(r.from), String(r.to), r.trigger, String(r.checkpointId), formatDuration(r.durationMs), r.reason])));
  }
  if (s.exceptions.length > 0) {
    const outcome = (e: JobStatus['exceptions'][number]): string => (e.restartInMs !== undefined ? `restart in ${formatDuration(e.restartInMs)}` : e.fatal ? 'failed (not retriable)' : 'failed');
    section(
      'RECENT EXCEPTIONS (newest first)',
      formatTable(['TIME', 'ATTEMPT', 'CODE', 'THEN', 'MESSAGE'], s.exceptions.slice(0, 5).map((e) => [time(e.at), e.attempt === undefined ? '-' : String(e.attempt), e.code ?? '-', outcome(e), e.message.split('\n')[0] ?? ''])),
    );
    const newest = s.exceptions[0];
    // A service older than this client sends no stack.
    if (newest?.stack !== undefined) section('NEWEST EXCEPTION (first frames; the full stack is in --json and the logs)', stackExcerpt(newest.stack).join('\n'));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The first frames of each error of a `caused by:` chain (as the service's `exceptions[].stack` holds it), without
 * Node's internal frames: enough to see the user's file:line, which is usually the innermost error's first frame.
 */
export function stackExcerpt(stack: string, framesPerError = 3): string[] {
  const out: string[] = [];
  stack.split('\ncaused by: ').forEach((segment, i) => {
    const lines = segment.split('\n');
    const firstFrame = lines.findIndex((l) => /^\s+at /.test(l));
    const header = firstFrame < 0 ? lines : lines.slice(0, firstFrame);
    const frames = firstFrame < 0 ? [] : lines.slice(firstFrame).filter((l) => /^\s+at /.test(l) && !l.includes('node:internal'));
    out.push(`${i === 0 ? '' : 'caused by: '}${header.join('\n')}`);
    for (const frame of frames.slice(0, framesPerError)) out.push(`  ${frame.trim()}`);
    if (frames.length > framesPerError) out.push(`  … ${frames.length - framesPerError} more`);
  });
  return out;
}
