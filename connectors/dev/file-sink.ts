import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sink, SinkWriter, SinkWriterContext } from '../../runtime/api/index.ts';
import { SluiceError } from '../../runtime/errors/index.ts';
import { syncDirectory } from '../../runtime/support/replace-file.ts';

/** Options of {@link fileSink}. */
export interface FileSinkOptions {
  /** Directory of the part files; created if missing. */
  directory: string;
}

/**
 * Writes NDJSON part files into a directory, exactly once (Flink's FileSink protocol):
 *
 * - records go to a hidden in-progress file `.part-<subtask>-<run>-<seq>.inprogress`;
 * - on barrier `n` it is flushed, fsync'd and renamed to `.part-…​.pending`, and the directory is fsync'd, making
 *   that rename and every commit before it durable (pre-commit); its name goes into the checkpoint;
 * - when checkpoint `n` completes, pending files are renamed to `part-<subtask>-<run>-<seq>.ndjson` (commit); a
 *   rename is atomic and repeating it is harmless, so a restore re-commits what the checkpoint lists;
 * - on restore, in-progress and pending files not listed in the restored checkpoint are deleted (abort).
 *
 * Without checkpointing, the in-progress file is committed when the input ends. Readers should read only
 * `part-*.ndjson` files ({@link readPartFiles}).
 *
 * @example
 * ```ts
 * counts.sink(fileSink({ directory: 'out/wordcount' }));
 * ```
 */
export function fileSink<T>(options: FileSinkOptions): Sink<T> {
  if (typeof options?.directory !== 'string' || options.directory === '') {
    throw new SluiceError('SLUICE_INVALID_OPTION', 'fileSink option "directory" must be a non-empty path', { retriable: false });
  }
  return { name: 'file', endpoints: [{ system: 'files', path: options.directory }], createWriter: (context) => new FileWriter<T>(options.directory, context) };
}

interface FileSinkState {
  /** Pending file names (without directory) awaiting commit. */
  readonly pending: string[];
}

const PART = /^\.?part-(\d+)-([a-z0-9]+)-(\d+)\.(inprogress|pending|ndjson)$/;

class FileWriter<T> implements SinkWriter<T> {
  readonly #directory: string;
  readonly #context: SinkWriterContext;
  /** Distinguishes this attempt's files from any earlier run's, even after a process restart. */
  readonly #run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  #seq = 0;
  #file: FileHandle | undefined;
  #fileName: string | undefined;
  #chunks: string[] = [];
  #pending: string[] = [];
  /**
   * A rename in the directory since it was last synced. A rename is durable only once its directory is: a pending
   * file the checkpoint lists must not be lost to a power loss (its restore would find only the in-progress file, and
   * delete it), nor a committed one that later checkpoints no longer list (its restore would delete the pending file).
   * So every pre-commit syncs the directory first when anything was renamed since.
   */
  #renamed = false;

  constructor(directory: string, context: SinkWriterContext) {
    this.#directory = directory;
    this.#context = context;
  }

  async start(): Promise<void> {
    await mkdir(this.#directory, { recursive: true });
    const keep = new Set<string>();
    for (const state of (this.#context.restoredState ?? []) as FileSinkState[]) {
      for (const name of state.pending) keep.add(name);
    }
    for (const name of keep) await this.#commitFile(name);
    // Abort what earlier attempts left: files of other runs that are not final and not restored.
    for (const name of await readdir(this.#directory)) {
      const match = PART.exec(name);
      if (match === null || match[4] === 'ndjson' || match[2] === this.#run || keep.has(name)) continue;
      await rm(join(this.#directory, name), { force: true });
    }
  }

  write(records: readonly T[]): Promise<void> | undefined {
    let text = '';
    for (const record of records) text += `${JSON.stringify(record)}\n`;
    this.#chunks.push(text);
    // Write every 256 batches: memory stays bounded without a file write per batch.
    return this.#chunks.length >= 256 ? this.#flush() : undefined;
  }

  async preCommit(): Promise<FileSinkState> {
    await this.#rollToPending();
    if (this.#renamed) await this.#syncDirectory();
    return { pending: [...this.#pending] };
  }

  async commit(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    for (const name of pending) await this.#commitFile(name);
  }

  async finish(): Promise<void> {
    if (this.#context.checkpointing) {
      // The final checkpoint already covered everything; anything left would be a protocol bug, so keep it pending.
      await this.#rollToPending();
      return;
    }
    await this.#rollToPending();
    await this.commit();
  }

  async close(): Promise<void> {
    this.#chunks = [];
    await this.#file?.close().catch(() => undefined);
    this.#file = undefined;
  }

  async #flush(): Promise<void> {
    if (this.#chunks.length === 0) return;
    if (this.#file === undefined) {
      this.#fileName = `.part-${this.#context.subtask}-${this.#run}-${this.#seq++}`;
      this.#file = await open(join(this.#directory, `${this.#fileName}.inprogress`), 'a');
    }
    const text = this.#chunks.join('');
    this.#chunks = [];
    await this.#file.write(text);
  }

  async #rollToPending(): Promise<void> {
    await this.#flush();
    if (this.#file === undefined || this.#fileName === undefined) return;
    await this.#file.sync();
    await this.#file.close();
    this.#file = undefined;
    const pendingName = `${this.#fileName}.pending`;
    await rename(join(this.#directory, `${this.#fileName}.inprogress`), join(this.#directory, pendingName));
    this.#renamed = true;
    this.#pending.push(pendingName);
    this.#fileName = undefined;
  }

  async #syncDirectory(): Promise<void> {
    this.#renamed = false;
    await syncDirectory(this.#directory);
  }

  async #commitFile(pendingName: string): Promise<void> {
    const finalName = `${pendingName.slice(1, -'.pending'.length)}.ndjson`;
    try {
      await rename(join(this.#directory, pendingName), join(this.#directory, finalName));
      this.#renamed = true;
    } catch (err) {
      // Already committed by an earlier attempt (or by another subtask re-committing the same restored list).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Reads every committed record of a {@link fileSink} directory, part file by part file (ordered by subtask, run and
 * sequence number).
 *
 * @example
 * ```ts
 * const totals = await readPartFiles<{ user: string; amount: number }>('out/totals');
 * ```
 */
export async function readPartFiles<T = unknown>(directory: string): Promise<T[]> {
  const names = (await readdir(directory)).filter((n) => PART.exec(n)?.[4] === 'ndjson' && !n.startsWith('.'));
  names.sort((a, b) => {
    const ma = PART.exec(a) as RegExpExecArray;
    const mb = PART.exec(b) as RegExpExecArray;
    return Number(ma[1]) - Number(mb[1]) || (ma[2] as string).localeCompare(mb[2] as string) || Number(ma[3]) - Number(mb[3]);
  });
  const out: T[] = [];
  for (const name of names) {
    const text = await readFile(join(directory, name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') out.push(JSON.parse(line) as T);
  }
  return out;
}
