import { EsError, illegalArgument } from '../errors.ts';
import { isPlainObject } from '../mapping/mapping-tree.ts';

/**
 * Index settings as ES keeps them: flat `index.*` keys with string values (that is how `GET /{index}` renders
 * them), plus the few the devstack acts on, parsed once.
 */
export interface IndexSettings {
  /** Flat `index.*` → string, as given (defaults added). */
  flat: Record<string, string>;
  numberOfShards: number;
  numberOfReplicas: number;
  /** Milliseconds; -1 disables scheduled refresh. */
  refreshIntervalMs: number;
  /** Whether `index.refresh_interval` was set (an explicit interval disables search-idle skipping). */
  refreshIntervalExplicit: boolean;
  totalFieldsLimit: number;
  maxResultWindow: number;
}

/** Setting prefixes accepted on index creation; anything else is rejected as a real node does. */
const KNOWN_PREFIXES = [
  'index.number_of_shards', 'index.number_of_replicas', 'index.refresh_interval', 'index.mapping.', 'index.max_',
  'index.analysis.', 'index.codec', 'index.routing', 'index.blocks.', 'index.translog.', 'index.query.', 'index.auto_expand_replicas',
  'index.hidden', 'index.sort.', 'index.search.', 'index.gc_deletes', 'index.priority', 'index.lifecycle.', 'index.default_pipeline',
  'index.final_pipeline', 'index.merge.', 'index.similarity.', 'index.shard.', 'index.unassigned.', 'index.write.',
  'index.number_of_routing_shards', 'index.store.', 'index.indexing.', 'index.mode', 'index.time_series.', 'index.version.',
  'index.uuid', 'index.creation_date', 'index.provided_name',
];

/** Flattens `{"index":{"number_of_shards":1}}`, `{"number_of_shards":1}` and `{"index.number_of_shards":1}` alike. */
export function flattenSettings(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (value: unknown, prefix: string): void => {
    if (isPlainObject(value)) {
      for (const [key, inner] of Object.entries(value)) walk(inner, prefix === '' ? key : `${prefix}.${key}`);
      return;
    }
    const key = prefix.startsWith('index.') ? prefix : `index.${prefix}`;
    out[key] = Array.isArray(value) ? value.map(String).join(',') : String(value);
  };
  if (body !== undefined && body !== null) walk(body, '');
  return out;
}

export function buildSettings(flat: Record<string, string>): IndexSettings {
  for (const key of Object.keys(flat)) {
    if (!KNOWN_PREFIXES.some((prefix) => key === prefix || key.startsWith(prefix))) {
      throw illegalArgument(`unknown setting [${key}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings`);
    }
  }
  const withDefaults = { 'index.number_of_shards': '1', 'index.number_of_replicas': '1', ...flat };
  const refresh = flat['index.refresh_interval'];
  return {
    flat: withDefaults,
    numberOfShards: positiveInt(withDefaults['index.number_of_shards'], 'index.number_of_shards', 1),
    numberOfReplicas: positiveInt(withDefaults['index.number_of_replicas'], 'index.number_of_replicas', 0),
    refreshIntervalMs: refresh === undefined ? 1000 : parseTimeValue(refresh, 'index.refresh_interval'),
    refreshIntervalExplicit: refresh !== undefined,
    totalFieldsLimit: positiveInt(flat['index.mapping.total_fields.limit'] ?? '1000', 'index.mapping.total_fields.limit', 0),
    maxResultWindow: positiveInt(flat['index.max_result_window'] ?? '10000', 'index.max_result_window', 1),
  };
}

function positiveInt(text: string, name: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value)) throw illegalArgument(`Failed to parse value [${text}] for setting [${name}]`);
  if (value < min) throw illegalArgument(`Failed to parse value [${text}] for setting [${name}] must be >= ${min}`);
  return value;
}

/** ES time values: `-1`, `500ms`, `1s`, `2m`, `1h`, `1d`. */
export function parseTimeValue(text: string, name: string): number {
  if (text === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)(nanos|micros|ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) {
    throw new EsError(400, {
      type: 'illegal_argument_exception',
      reason: `failed to parse setting [${name}] with value [${text}] as a time value: unit is missing or unrecognized`,
    });
  }
  const unit = { nanos: 1e-6, micros: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

/** Renders flat settings nested under `index`, as `GET /{index}` does. */
export function renderSettings(flat: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (isPlainObject(next)) node = next;
      else {
        const created: Record<string, unknown> = {};
        node[part] = created;
        node = created;
      }
    }
    node[parts[parts.length - 1]!] = value;
  }
  return out;
}
