import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../../../runtime/errors/index.ts';

/**
 * On-disk form of one index under `<dataDir>/indices/<name>/`. Three files:
 *
 * `meta.json` — written whole via temp file + rename whenever settings or mappings change:
 *   {"name":"orders","uuid":"…","creation_date":"1700000000000","settings":{…flat "index.*" keys…},"mappings":{…as GET _mapping renders…}}
 *
 * `docs.ndjson` — the snapshot, written via temp file + rename by compaction (on close, on open after a replay,
 * and when the operation log outgrows it). First line is a header, then one line per live document:
 *   {"sluice_es_snapshot":1,"seq_no":41}
 *   {"_id":"1","_version":3,"_seq_no":40,"_primary_term":1,"_source":{…}}
 *
 * `ops.ndjson` — operations since the snapshot, appended with one write per request (not fsynced: the devstack
 * survives its own close and process exits, not power loss):
 *   {"op":"index","_id":"1","_version":4,"_seq_no":42,"_primary_term":1,"_source":{…}}
 *   {"op":"delete","_id":"1","_version":5,"_seq_no":43,"_primary_term":1}
 *
 * Every line carries the document's absolute state, so replay is "set" not "apply": an operation whose `_seq_no`
 * is not above the snapshot's header is skipped, which makes a crash between the snapshot rename and the log
 * truncation harmless. A torn last line (crash mid-append) is ignored.
 */

export interface PersistedMeta {
  name: string;
  uuid: string;
  creation_date: string;
  settings: Record<string, string>;
  mappings: Record<string, unknown>;
}

export interface PersistedDoc {
  _id: string;
  _version: number;
  _seq_no: number;
  _primary_term: number;
  _source: Record<string, unknown>;
}

export interface LoadedIndex {
  meta: PersistedMeta;
  docs: Map<string, PersistedDoc>;
  seqNo: number;
}

/** Compact when the log is this much larger than the snapshot (and at least MIN_COMPACT_BYTES). */
const COMPACT_RATIO = 2;
const MIN_COMPACT_BYTES = 64 * 1024 * 1024;

export class IndexLog {
  readonly #dir: string;
  #fd: number | undefined;
  #buffer: string[] = [];
  #logBytes = 0;
  #snapshotBytes = 0;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Reads an index back: snapshot, then the operations after it. */
  static load(dir: string): LoadedIndex {
    const metaPath = join(dir, 'meta.json');
    let meta: PersistedMeta;
    try {
      meta = JSON.parse(readFileSync(metaPath, 'utf8')) as PersistedMeta;
    } catch (err) {
      throw new SluiceError('SLUICE_DEVSTACK_ES_DATA_CORRUPT',
        `the devstack Elasticsearch index metadata ${metaPath} cannot be read; delete the directory ${dir} to drop that index`,
        { cause: err });
    }
    const docs = new Map<string, PersistedDoc>();
    let seqNo = -1;
    const snapshotPath = join(dir, 'docs.ndjson');
    if (existsSync(snapshotPath)) {
      const lines = readFileSync(snapshotPath, 'utf8').split('\n');
      const header = JSON.parse(lines[0]!) as { sluice_es_snapshot: number; seq_no: number };
      seqNo = header.seq_no;
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!;
        if (line === '') continue;
        const doc = JSON.parse(line) as PersistedDoc;
        docs.set(doc._id, doc);
      }
    }
    const snapshotSeqNo = seqNo;
    const opsPath = join(dir, 'ops.ndjson');
    if (existsSync(opsPath)) {
      for (const line of readFileSync(opsPath, 'utf8').split('\n')) {
        if (line === '') continue;
        let op: PersistedDoc & { op: 'index' | 'delete' };
        try {
          op = JSON.parse(line) as PersistedDoc & { op: 'index' | 'delete' };
        } catch {
          break; // torn final append
        }
        if (op._seq_no <= snapshotSeqNo) continue;
        seqNo = Math.max(seqNo, op._seq_no);
        if (op.op === 'delete') docs.delete(op._id);
        else docs.set(op._id, { _id: op._id, _version: op._version, _seq_no: op._seq_no, _primary_term: op._primary_term, _source: op._source });
      }
    }
    return { meta, docs, seqNo };
  }

  writeMeta(meta: PersistedMeta): void {
    writeAtomically(join(this.#dir, 'meta.json'), [JSON.stringify(meta)]);
  }

  appendIndex(doc: PersistedDoc): void {
    this.#buffer.push(`{"op":"index","_id":${JSON.stringify(doc._id)},"_version":${doc._version},"_seq_no":${doc._seq_no},` +
      `"_primary_term":${doc._primary_term},"_source":${JSON.stringify(doc._source)}}\n`);
  }

  appendDelete(id: string, version: number, seqNo: number, primaryTerm: number): void {
    this.#buffer.push(`{"op":"delete","_id":${JSON.stringify(id)},"_version":${version},"_seq_no":${seqNo},"_primary_term":${primaryTerm}}\n`);
  }

  /** Writes the buffered operations with one system call. Returns true when the log asks for compaction. */
  flush(): boolean {
    if (this.#buffer.length === 0) return false;
    const chunk = this.#buffer.join('');
    this.#buffer = [];
    this.#fd ??= openSync(join(this.#dir, 'ops.ndjson'), 'a');
    const bytes = Buffer.from(chunk);
    writeSync(this.#fd, bytes);
    this.#logBytes += bytes.length;
    return this.#logBytes > Math.max(MIN_COMPACT_BYTES, COMPACT_RATIO * this.#snapshotBytes);
  }

  /** Replaces the snapshot with `docs` and empties the operation log. */
  compact(docs: Iterable<PersistedDoc>, seqNo: number): void {
    this.flush();
    const lines = [`{"sluice_es_snapshot":1,"seq_no":${seqNo}}\n`];
    for (const doc of docs) lines.push(`${JSON.stringify(doc)}\n`);
    this.#snapshotBytes = writeAtomically(join(this.#dir, 'docs.ndjson'), lines);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = openSync(join(this.#dir, 'ops.ndjson'), 'w');
    this.#logBytes = 0;
  }

  /** Whether operations were appended since the last snapshot (on disk or still buffered). */
  get hasOperations(): boolean {
    if (this.#buffer.length > 0 || this.#logBytes > 0) return true;
    const opsPath = join(this.#dir, 'ops.ndjson');
    return existsSync(opsPath) && statSync(opsPath).size > 0;
  }

  close(): void {
    this.flush();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Deletes the index's files (DELETE /{index}). */
  destroy(): void {
    this.#buffer = [];
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function writeAtomically(path: string, lines: string[]): number {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, 'w');
  let bytes = 0;
  try {
    // Joining a million lines at once doubles peak memory; write in ~1 MiB chunks instead.
    let chunk: string[] = [];
    let chunkLength = 0;
    for (const line of lines) {
      chunk.push(line);
      chunkLength += line.length;
      if (chunkLength >= 1 << 20) {
        bytes += writeSync(fd, chunk.join(''));
        chunk = [];
        chunkLength = 0;
      }
    }
    if (chunk.length > 0) bytes += writeSync(fd, chunk.join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  return bytes;
}
