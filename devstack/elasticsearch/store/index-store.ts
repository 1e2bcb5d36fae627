import { randomBytes } from 'node:crypto';
import {
  documentExistsConflict, documentMissing, externalVersionConflict, sequenceConflict, type EsCause,
} from '../errors.ts';
import { parseDocument } from '../mapping/document-parser.ts';
import {
  countFields, flattenFields, isPlainObject, objectPaths, type ResolvedField, type RootMapping,
} from '../mapping/mapping-tree.ts';
import type { IndexLog, PersistedDoc, PersistedMeta } from './index-log.ts';
import type { IndexSettings } from './index-settings.ts';

/**
 * One index: the realtime document map (GET by id), the searchable map (what search and count see, as of the last
 * refresh), the changes waiting for the next refresh, and version bookkeeping.
 *
 * Documents are kept as parsed objects and shared between the two maps; a refresh applies only the pending
 * changes, so its cost is O(changes), not O(index).
 */

export interface StoredDoc {
  readonly id: string;
  readonly version: number;
  readonly seqNo: number;
  readonly primaryTerm: number;
  readonly source: Record<string, unknown>;
}

export type WriteResultName = 'created' | 'updated' | 'deleted' | 'not_found' | 'noop';

export type WriteOutcome =
  | { ok: true; status: 200 | 201 | 404; result: WriteResultName; id: string; version: number; seqNo: number; primaryTerm: number }
  | { ok: false; status: number; id: string; cause: EsCause };

export interface IndexOptions {
  opType: 'index' | 'create';
  ifSeqNo?: number;
  ifPrimaryTerm?: number;
  version?: number;
  versionType?: 'internal' | 'external' | 'external_gte';
}

export interface UpdateBody {
  doc?: Record<string, unknown>;
  upsert?: Record<string, unknown>;
  doc_as_upsert?: boolean;
  detect_noop?: boolean;
}

const PRIMARY_TERM = 1;
/** ES keeps delete tombstones this long (`index.gc_deletes`), so a re-created id continues the version. */
const GC_DELETES_MS = 60_000;
/** `index.search.idle.after`. */
const SEARCH_IDLE_MS = 30_000;

export class IndexStore {
  readonly name: string;
  readonly uuid: string;
  readonly creationDate: number;
  readonly settings: IndexSettings;
  readonly mapping: RootMapping;
  readonly #live = new Map<string, StoredDoc>();
  readonly #searchable = new Map<string, StoredDoc>();
  readonly #pending = new Map<string, StoredDoc | null>();
  readonly #tombstones = new Map<string, { version: number; at: number }>();
  readonly #refreshWaiters: Array<() => void> = [];
  readonly #log: IndexLog | undefined;
  readonly #onMappingChange: (index: IndexStore) => void;
  readonly #now: () => number;
  #seqNo = -1;
  #fieldCount: number;
  #fields: Map<string, ResolvedField> | undefined;
  #objects: Set<string> | undefined;
  #lastSearchAt: number;
  #nextRefreshAt: number;
  #logDirty = false;
  #writeShards: { readonly total: number; readonly successful: number; readonly failed: number } | undefined;

  constructor(init: {
    name: string;
    uuid?: string;
    creationDate?: number;
    settings: IndexSettings;
    mapping: RootMapping;
    log?: IndexLog;
    onMappingChange: (index: IndexStore) => void;
    now: () => number;
  }) {
    this.name = init.name;
    this.uuid = init.uuid ?? randomBytes(16).toString('base64url').slice(0, 22);
    this.#now = init.now;
    this.creationDate = init.creationDate ?? this.#now();
    this.settings = init.settings;
    this.mapping = init.mapping;
    this.#log = init.log;
    this.#onMappingChange = init.onMappingChange;
    this.#fieldCount = countFields(init.mapping);
    this.#lastSearchAt = this.#now();
    this.#nextRefreshAt = this.#now() + Math.max(0, init.settings.refreshIntervalMs);
  }

  /** Loads persisted documents (restart): they are searchable at once, as after ES's recovery refresh. */
  restore(docs: Iterable<PersistedDoc>, seqNo: number): void {
    for (const doc of docs) {
      const stored: StoredDoc = { id: doc._id, version: doc._version, seqNo: doc._seq_no, primaryTerm: doc._primary_term, source: doc._source };
      this.#live.set(stored.id, stored);
      this.#searchable.set(stored.id, stored);
    }
    this.#seqNo = seqNo;
  }

  get docCount(): number {
    return this.#live.size;
  }

  get seqNo(): number {
    return this.#seqNo;
  }

  /** `_shards` of a write: the primary plus its (never assigned, single node) replicas. Shared, never mutated. */
  get writeShards(): { readonly total: number; readonly successful: number; readonly failed: number } {
    this.#writeShards ??= Object.freeze({ total: 1 + this.settings.numberOfReplicas, successful: 1, failed: 0 });
    return this.#writeShards;
  }

  /** Realtime read, as GET by id is in ES. */
  get(id: string): StoredDoc | undefined {
    return this.#live.get(id);
  }

  index(id: string, source: Record<string, unknown>, text: () => string, options: IndexOptions): WriteOutcome {
    const existing = this.#live.get(id);
    const conflict = this.#checkConflict(id, existing, options);
    if (conflict !== undefined) return conflict;
    const parsed = this.#parse(id, source, text);
    if (parsed !== undefined) return parsed;
    const external = options.versionType === 'external' || options.versionType === 'external_gte';
    const version = external ? options.version! : this.#currentVersion(id, existing) + 1;
    return this.#put(id, source, version, existing === undefined ? 'created' : 'updated');
  }

  update(id: string, body: UpdateBody, options: Pick<IndexOptions, 'ifSeqNo' | 'ifPrimaryTerm'>): WriteOutcome {
    const existing = this.#live.get(id);
    if (options.ifSeqNo !== undefined) {
      const conflict = this.#checkConflict(id, existing, { opType: 'index', ...options });
      if (conflict !== undefined) return conflict;
    }
    if (existing === undefined) {
      const upsert = body.doc_as_upsert === true ? body.doc : body.upsert;
      if (upsert === undefined) return { ok: false, status: 404, id, cause: documentMissing(id, this.name, this.uuid) };
      const parsed = this.#parse(id, upsert, () => JSON.stringify(upsert));
      if (parsed !== undefined) return parsed;
      return this.#put(id, upsert, this.#currentVersion(id, undefined) + 1, 'created');
    }
    const merged = mergeDocument(existing.source, body.doc ?? {});
    if (body.detect_noop !== false && merged === existing.source) {
      return { ok: true, status: 200, result: 'noop', id, version: existing.version, seqNo: existing.seqNo, primaryTerm: existing.primaryTerm };
    }
    const parsed = this.#parse(id, merged, () => JSON.stringify(merged));
    if (parsed !== undefined) return parsed;
    return this.#put(id, merged, existing.version + 1, 'updated');
  }

  delete(id: string, options: Omit<IndexOptions, 'opType'>): WriteOutcome {
    const existing = this.#live.get(id);
    const conflict = this.#checkConflict(id, existing, { opType: 'index', ...options });
    if (conflict !== undefined) return conflict;
    const external = options.versionType === 'external' || options.versionType === 'external_gte';
    const version = external ? options.version! : this.#currentVersion(id, existing) + 1;
    const seqNo = ++this.#seqNo;
    this.#live.delete(id);
    this.#pending.set(id, null);
    this.#tombstones.set(id, { version, at: this.#now() });
    if (this.#log !== undefined) {
      this.#log.appendDelete(id, version, seqNo, PRIMARY_TERM);
      this.#logDirty = true;
    }
    return {
      ok: true, status: existing === undefined ? 404 : 200, result: existing === undefined ? 'not_found' : 'deleted',
      id, version, seqNo, primaryTerm: PRIMARY_TERM,
    };
  }

  #currentVersion(id: string, existing: StoredDoc | undefined): number {
    if (existing !== undefined) return existing.version;
    const tombstone = this.#tombstones.get(id);
    if (tombstone === undefined) return 0;
    if (this.#now() - tombstone.at > GC_DELETES_MS) {
      this.#tombstones.delete(id);
      return 0;
    }
    return tombstone.version;
  }

  #checkConflict(id: string, existing: StoredDoc | undefined, options: IndexOptions): WriteOutcome | undefined {
    if (options.opType === 'create' && existing !== undefined) {
      return { ok: false, status: 409, id, cause: documentExistsConflict(id, existing.version, this.name, this.uuid) };
    }
    if (options.ifSeqNo !== undefined || options.ifPrimaryTerm !== undefined) {
      const expected = { seqNo: options.ifSeqNo ?? -2, primaryTerm: options.ifPrimaryTerm ?? 0 };
      if (existing === undefined || existing.seqNo !== expected.seqNo || existing.primaryTerm !== expected.primaryTerm) {
        const current = existing === undefined ? undefined : { seqNo: existing.seqNo, primaryTerm: existing.primaryTerm };
        return { ok: false, status: 409, id, cause: sequenceConflict(id, expected, current, this.name, this.uuid) };
      }
    }
    if (options.versionType === 'external' || options.versionType === 'external_gte') {
      const current = this.#currentVersion(id, existing);
      const gte = options.versionType === 'external_gte';
      const provided = options.version!;
      if (current > 0 && (gte ? current > provided : current >= provided)) {
        return { ok: false, status: 409, id, cause: externalVersionConflict(id, current, provided, gte, this.name, this.uuid) };
      }
    }
    return undefined;
  }

  #parse(id: string, source: Record<string, unknown>, text: () => string): WriteOutcome | undefined {
    const result = parseDocument(
      { root: this.mapping, id, text, fieldLimit: this.settings.totalFieldsLimit, fieldCount: this.#fieldCount },
      source,
    );
    if (!result.ok) return { ok: false, status: 400, id, cause: result.cause };
    if (result.added > 0) this.mappingChanged();
    return undefined;
  }

  /** Call after any change of {@link mapping} (dynamic or `PUT _mapping`). */
  mappingChanged(): void {
    this.#fieldCount = countFields(this.mapping);
    this.#fields = undefined;
    this.#objects = undefined;
    this.#onMappingChange(this);
  }

  #put(id: string, source: Record<string, unknown>, version: number, result: 'created' | 'updated'): WriteOutcome {
    const doc: StoredDoc = { id, version, seqNo: ++this.#seqNo, primaryTerm: PRIMARY_TERM, source };
    this.#live.set(id, doc);
    this.#pending.set(id, doc);
    if (this.#log !== undefined) {
      this.#log.appendIndex({ _id: id, _version: version, _seq_no: doc.seqNo, _primary_term: PRIMARY_TERM, _source: source });
      this.#logDirty = true;
    }
    return { ok: true, status: result === 'created' ? 201 : 200, result, id, version, seqNo: doc.seqNo, primaryTerm: PRIMARY_TERM };
  }

  /** Makes pending changes searchable. An updated document moves to the end, as a new Lucene doc would. */
  refresh(): void {
    for (const [id, doc] of this.#pending) {
      this.#searchable.delete(id);
      if (doc !== null) this.#searchable.set(id, doc);
    }
    this.#pending.clear();
    this.#nextRefreshAt = this.#now() + Math.max(0, this.settings.refreshIntervalMs);
    const waiters = this.#refreshWaiters.splice(0);
    for (const resolve of waiters) resolve();
  }

  /** Resolves at the next refresh (`refresh=wait_for`). */
  waitForRefresh(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#refreshWaiters.push(resolve));
  }

  /**
   * The scheduled refresh. Like ES, a shard that has not been searched for 30 s is "search idle" and skips it
   * (unless its refresh interval was set explicitly or someone waits for a refresh); the next search refreshes.
   */
  scheduledRefresh(now: number): void {
    if (this.#pending.size === 0 || this.settings.refreshIntervalMs <= 0 || now < this.#nextRefreshAt) return;
    const idle = !this.settings.refreshIntervalExplicit && now - this.#lastSearchAt > SEARCH_IDLE_MS;
    if (idle && this.#refreshWaiters.length === 0) return;
    this.refresh();
  }

  /** The documents a search sees, refreshing first if the shard was search idle. */
  searcher(): ReadonlyMap<string, StoredDoc> {
    const now = this.#now();
    if (!this.settings.refreshIntervalExplicit && now - this.#lastSearchAt > SEARCH_IDLE_MS && this.#pending.size > 0) {
      this.refresh();
    }
    this.#lastSearchAt = now;
    return this.#searchable;
  }

  get fields(): Map<string, ResolvedField> {
    this.#fields ??= flattenFields(this.mapping);
    return this.#fields;
  }

  get objectFields(): Set<string> {
    this.#objects ??= objectPaths(this.mapping);
    return this.#objects;
  }

  /** Writes the operations appended by the last request (one write), compacting when the log outgrew the snapshot. */
  flushLog(): void {
    if (!this.#logDirty || this.#log === undefined) return;
    this.#logDirty = false;
    if (this.#log.flush()) this.compactLog();
  }

  /** Rewrites the snapshot from the live documents and empties the operation log. */
  compactLog(): void {
    this.#log?.compact(this.persistedDocs(), this.#seqNo);
  }

  /** Compacts and closes the log (server close). */
  closeLog(): void {
    if (this.#log === undefined) return;
    this.compactLog();
    this.#log.close();
  }

  /** Deletes the persisted files (DELETE /{index}). */
  destroyLog(): void {
    this.#log?.destroy();
  }

  writeMeta(meta: PersistedMeta): void {
    this.#log?.writeMeta(meta);
  }

  /** Snapshot of all live documents for compaction. */
  *persistedDocs(): Iterable<PersistedDoc> {
    for (const doc of this.#live.values()) {
      yield { _id: doc.id, _version: doc.version, _seq_no: doc.seqNo, _primary_term: doc.primaryTerm, _source: doc.source };
    }
  }
}

/**
 * ES's partial-update merge: objects merge recursively, everything else (arrays included) is replaced. Returns
 * `base` itself when nothing changed, which is how `detect_noop` is decided without a second comparison pass.
 */
export function mergeDocument(base: Record<string, unknown>, doc: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(doc)) {
    const incoming = doc[key];
    const current = base[key];
    let next: unknown;
    if (isPlainObject(incoming) && isPlainObject(current)) next = mergeDocument(current, incoming);
    else next = deepEqual(current, incoming) && key in base ? current : incoming;
    if (next !== current || !(key in base)) {
      out ??= { ...base };
      out[key] = next;
    }
  }
  return out ?? base;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
