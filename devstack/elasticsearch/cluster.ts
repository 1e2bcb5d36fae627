import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../runtime/logging/index.ts';
import { indexAlreadyExists, indexNotFound, invalidIndexName, illegalArgument, EsError } from './errors.ts';
import { emptyRootMapping, mergeMappingDefinition, isPlainObject, renderMapping } from './mapping/mapping-tree.ts';
import { IndexLog, type PersistedMeta } from './store/index-log.ts';
import { buildSettings, flattenSettings } from './store/index-settings.ts';
import { IndexStore } from './store/index-store.ts';

/**
 * The single-node cluster: its indices, their persistence, and the scheduled refresh. Handlers reach indices only
 * through here, so name validation, auto-creation and wildcard resolution behave the same for every endpoint.
 */

export interface ClusterOptions {
  dataDir: string | undefined;
  logger: Logger;
  now?: () => number;
}

/** How often the refresh scheduler looks at indices; each index still refreshes on its own interval. */
const REFRESH_TICK_MS = 100;

export class Cluster {
  readonly nodeName: string;
  readonly nodeId: string;
  readonly clusterName = 'devstack';
  readonly clusterUuid: string;
  readonly #indices = new Map<string, IndexStore>();
  readonly #dataDir: string | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  private constructor(options: ClusterOptions, identity: { nodeId: string; clusterUuid: string }) {
    this.#dataDir = options.dataDir;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.nodeId = identity.nodeId;
    this.nodeName = `devstack-${identity.nodeId.slice(0, 6).toLowerCase()}`;
    this.clusterUuid = identity.clusterUuid;
    this.#timer = setInterval(() => this.#refreshTick(), REFRESH_TICK_MS);
    this.#timer.unref();
  }

  /** Opens a cluster, loading the indices persisted under `dataDir`. */
  static open(options: ClusterOptions): Cluster {
    let identity = { nodeId: randomId(), clusterUuid: randomId() };
    if (options.dataDir !== undefined) {
      mkdirSync(join(options.dataDir, 'indices'), { recursive: true });
      const identityPath = join(options.dataDir, 'cluster.json');
      if (existsSync(identityPath)) identity = JSON.parse(readFileSync(identityPath, 'utf8')) as typeof identity;
      else {
        writeFileSync(`${identityPath}.tmp`, JSON.stringify(identity));
        renameSync(`${identityPath}.tmp`, identityPath);
      }
    }
    const cluster = new Cluster(options, identity);
    if (options.dataDir !== undefined) cluster.#loadIndices(join(options.dataDir, 'indices'));
    return cluster;
  }

  #loadIndices(root: string): void {
    for (const name of readdirSync(root)) {
      const dir = join(root, name);
      if (!existsSync(join(dir, 'meta.json'))) continue;
      const loaded = IndexLog.load(dir);
      const mapping = emptyRootMapping();
      mergeMappingDefinition(mapping, loaded.meta.mappings);
      const log = new IndexLog(dir);
      const store = new IndexStore({
        name: loaded.meta.name,
        uuid: loaded.meta.uuid,
        creationDate: Number(loaded.meta.creation_date),
        settings: buildSettings(loaded.meta.settings),
        mapping,
        log,
        onMappingChange: (index) => this.#persistMeta(index),
        now: this.#now,
      });
      store.restore(loaded.docs.values(), loaded.seqNo);
      if (log.hasOperations) store.compactLog();
      this.#indices.set(store.name, store);
      this.#logger.debug({ index: store.name, docs: store.docCount }, 'devstack elasticsearch restored index');
    }
  }

  get indices(): ReadonlyMap<string, IndexStore> {
    return this.#indices;
  }

  get(name: string): IndexStore | undefined {
    return this.#indices.get(name);
  }

  /** The index, or the 404 `index_not_found_exception` a read of a missing index gets. */
  require(name: string): IndexStore {
    const index = this.#indices.get(name);
    if (index === undefined) throw indexNotFound(name);
    return index;
  }

  /** `PUT /{index}` with an optional `{settings, mappings, aliases}` body. */
  create(name: string, body: unknown): IndexStore {
    validateIndexName(name);
    const existing = this.#indices.get(name);
    if (existing !== undefined) throw indexAlreadyExists(name, existing.uuid);
    const spec = isPlainObject(body) ? body : {};
    for (const key of Object.keys(spec)) {
      if (key !== 'settings' && key !== 'mappings' && key !== 'aliases') {
        throw new EsError(400, { type: 'parse_exception', reason: `unknown key [${key}] for create index` });
      }
    }
    const settings = buildSettings(flattenSettings(spec['settings']));
    const mapping = emptyRootMapping();
    const mappings = spec['mappings'];
    if (mappings !== undefined) {
      if (!isPlainObject(mappings)) throw new EsError(400, { type: 'mapper_parsing_exception', reason: 'Failed to parse mapping: mapping must be an object' });
      try {
        mergeMappingDefinition(mapping, mappings);
      } catch (err) {
        if (err instanceof EsError) {
          throw new EsError(err.status, { type: 'mapper_parsing_exception', reason: `Failed to parse mapping: ${err.cause.reason ?? ''}`, caused_by: err.cause });
        }
        throw err;
      }
    }
    return this.#add(name, settings, mapping);
  }

  /** The index a write goes to, created with defaults when missing (`action.auto_create_index`). */
  forWrite(name: string): IndexStore {
    const existing = this.#indices.get(name);
    if (existing !== undefined) return existing;
    validateIndexName(name);
    return this.#add(name, buildSettings({}), emptyRootMapping());
  }

  #add(name: string, settings: ReturnType<typeof buildSettings>, mapping: ReturnType<typeof emptyRootMapping>): IndexStore {
    const dir = this.#dataDir === undefined ? undefined : join(this.#dataDir, 'indices', name);
    const store = new IndexStore({
      name, settings, mapping,
      onMappingChange: (index) => this.#persistMeta(index),
      now: this.#now,
      ...(dir === undefined ? {} : { log: new IndexLog(dir) }),
    });
    if (dir !== undefined) {
      mkdirSync(dir, { recursive: true });
      store.writeMeta(metaOf(store));
    }
    this.#indices.set(name, store);
    this.#logger.debug({ index: name }, 'devstack elasticsearch created index');
    return store;
  }

  delete(names: string[]): void {
    for (const name of names) {
      if (name.includes('*') || name === '_all') {
        throw illegalArgument('Wildcard expressions or all indices are not allowed');
      }
      this.require(name);
    }
    for (const name of names) {
      this.#indices.get(name)!.destroyLog();
      this.#indices.delete(name);
    }
  }

  /**
   * Resolves an index expression of a read API (`a,b`, `logs-*`, `_all`, `-excluded`): concrete names must exist
   * (unless `ignoreUnavailable`); wildcards may match nothing; hidden (dot) indices need a dot pattern.
   */
  resolve(expression: string | undefined, options: { ignoreUnavailable?: boolean } = {}): IndexStore[] {
    const parts = expression === undefined || expression === '' ? ['_all'] : expression.split(',');
    const selected = new Set<string>();
    for (const part of parts) {
      if (part.startsWith('-') && selected.size > 0) {
        const pattern = toPattern(part.slice(1));
        for (const name of [...selected]) if (pattern.test(name)) selected.delete(name);
        continue;
      }
      if (part === '_all' || part === '*') {
        for (const name of this.#indices.keys()) if (!name.startsWith('.')) selected.add(name);
        continue;
      }
      if (part.includes('*')) {
        const pattern = toPattern(part);
        for (const name of this.#indices.keys()) {
          if (pattern.test(name) && (!name.startsWith('.') || part.startsWith('.'))) selected.add(name);
        }
        continue;
      }
      if (this.#indices.has(part)) selected.add(part);
      else if (options.ignoreUnavailable !== true) throw indexNotFound(part);
    }
    return [...selected].sort().map((name) => this.#indices.get(name)!);
  }

  /** Writes the operations of the last request to each index's log (one write per index). */
  flushLogs(): void {
    for (const index of this.#indices.values()) index.flushLog();
  }

  #persistMeta(index: IndexStore): void {
    index.writeMeta(metaOf(index));
  }

  #refreshTick(): void {
    const now = this.#now();
    for (const index of this.#indices.values()) index.scheduledRefresh(now);
  }

  /** Stops the scheduler and writes every index as a compact snapshot. */
  close(): void {
    clearInterval(this.#timer);
    for (const index of this.#indices.values()) {
      index.flushLog();
      index.closeLog();
    }
  }
}

function metaOf(index: IndexStore): PersistedMeta {
  return {
    name: index.name,
    uuid: index.uuid,
    creation_date: String(index.creationDate),
    settings: Object.fromEntries(Object.entries(index.settings.flat).filter(([key]) => !GENERATED_SETTINGS.has(key))),
    mappings: renderMapping(index.mapping),
  };
}

const GENERATED_SETTINGS = new Set(['index.uuid', 'index.creation_date', 'index.provided_name', 'index.version.created']);

function toPattern(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function randomId(): string {
  return randomBytes(16).toString('base64url').slice(0, 22);
}

/** ES's index name rules (MetadataCreateIndexService.validateIndexOrAliasName + lowercase). */
export function validateIndexName(name: string): void {
  if (/[\\/*?"<>| ,]/.test(name)) {
    throw invalidIndexName(name, 'must not contain the following characters [\' \',\'"\',\'*\',\',\',\'/\',\'<\',\'>\',\'?\',\'\\\',\'|\']');
  }
  if (name.includes('#')) throw invalidIndexName(name, "must not contain '#'");
  if (name.includes(':')) throw invalidIndexName(name, "must not contain ':'");
  if (name.startsWith('_') || name.startsWith('-') || name.startsWith('+')) {
    throw invalidIndexName(name, "must not start with '_', '-', or '+'");
  }
  const bytes = Buffer.byteLength(name);
  if (bytes > 255) throw invalidIndexName(name, `index name is too long, (${bytes} > 255)`);
  if (name === '.' || name === '..') throw invalidIndexName(name, "must not be '.' or '..'");
  if (name.toLowerCase() !== name) throw invalidIndexName(name, 'must be lowercase');
}
