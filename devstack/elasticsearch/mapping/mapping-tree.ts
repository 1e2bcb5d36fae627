import { EsError } from '../errors.ts';

/**
 * The in-memory form of an index mapping: a tree of object mappers with leaf field mappers, as ES keeps it.
 *
 * Leaves keep the definition they were given (explicitly or by dynamic mapping) so `GET _mapping` renders what the
 * user wrote, the way ES echoes unknown-to-us-but-valid parameters back.
 */

export const LEAF_TYPES = [
  'text', 'match_only_text', 'keyword', 'constant_keyword', 'wildcard',
  'long', 'integer', 'short', 'byte', 'unsigned_long', 'double', 'float', 'half_float', 'scaled_float',
  'boolean', 'date', 'date_nanos', 'ip', 'binary',
] as const;
export type LeafType = (typeof LEAF_TYPES)[number];

export type DynamicMode = 'true' | 'false' | 'strict' | 'runtime';

export interface LeafMapping {
  kind: 'leaf';
  type: LeafType;
  /** The definition as rendered by `GET _mapping` (multi-fields included). */
  definition: Record<string, unknown>;
  /** Multi-fields (`fields`), e.g. the `keyword` sub-field of a dynamically mapped string. */
  fields: Map<string, LeafMapping>;
  ignoreAbove: number | undefined;
  format: string | undefined;
  index: boolean;
}

export interface ObjectMapping {
  kind: 'object';
  nested: boolean;
  /** Explicit `dynamic` of this object; `undefined` inherits from the parent. */
  dynamic: DynamicMode | undefined;
  enabled: boolean;
  properties: Map<string, FieldMapping>;
}

export type FieldMapping = LeafMapping | ObjectMapping;

/** The root of a mapping: an object mapper plus root-only settings. */
export interface RootMapping extends ObjectMapping {
  dateDetection: boolean;
  numericDetection: boolean;
  /** Root-level keys we keep but do not interpret (`_source`, `_meta`, `dynamic_templates`, …). */
  extras: Record<string, unknown>;
}

/** What a query needs to know about a searchable field path (`name`, `name.keyword`, `user.id`). */
export interface ResolvedField {
  type: LeafType;
  /** Path of the values in `_source` (a multi-field reads its parent's values). */
  sourcePath: string[];
  ignoreAbove: number | undefined;
  format: string | undefined;
}

export function emptyRootMapping(): RootMapping {
  return {
    kind: 'object', nested: false, dynamic: undefined, enabled: true, properties: new Map(),
    dateDetection: true, numericDetection: false, extras: {},
  };
}

export function newObjectMapping(): ObjectMapping {
  return { kind: 'object', nested: false, dynamic: undefined, enabled: true, properties: new Map() };
}

/** Builds a leaf from a definition such as `{ "type": "keyword", "ignore_above": 256 }`. */
export function leafFromDefinition(path: string, definition: Record<string, unknown>): LeafMapping {
  const type = definition['type'];
  if (typeof type !== 'string' || !(LEAF_TYPES as readonly string[]).includes(type)) {
    throw mapperParsing(`No handler for type [${String(type)}] declared on field [${path}]`);
  }
  const fields = new Map<string, LeafMapping>();
  const rawFields = definition['fields'];
  if (rawFields !== undefined) {
    if (!isPlainObject(rawFields)) throw mapperParsing(`[fields] must be an object on field [${path}]`);
    for (const [name, sub] of Object.entries(rawFields)) {
      if (!isPlainObject(sub)) throw mapperParsing(`Expected map for property [fields] on field [${name}]`);
      fields.set(name, leafFromDefinition(`${path}.${name}`, sub));
    }
  }
  const ignoreAbove = definition['ignore_above'];
  const format = definition['format'];
  return {
    kind: 'leaf',
    type: type as LeafType,
    definition,
    fields,
    ignoreAbove: typeof ignoreAbove === 'number' ? ignoreAbove : undefined,
    format: typeof format === 'string' ? format : undefined,
    index: definition['index'] !== false,
  };
}

/** Parses the `mappings` body of index creation or `PUT _mapping` into `root` (merging, as ES does). */
export function mergeMappingDefinition(root: RootMapping, body: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(body)) {
    if (key === 'properties') continue;
    if (key === 'dynamic') root.dynamic = parseDynamic(value, '_doc');
    else if (key === 'date_detection') root.dateDetection = value === true || value === 'true';
    else if (key === 'numeric_detection') root.numericDetection = value === true || value === 'true';
    else if (key === '_doc') {
      throw mapperParsing('The mapping definition cannot be nested under a type [_doc] unless include_type_name is set to true.');
    } else root.extras[key] = value;
  }
  const properties = body['properties'];
  if (properties !== undefined) {
    if (!isPlainObject(properties)) throw mapperParsing('Expected map for property [properties]');
    mergeProperties(root, properties, '');
  }
}

function mergeProperties(target: ObjectMapping, properties: Record<string, unknown>, prefix: string): void {
  for (const [name, definition] of Object.entries(properties)) {
    const path = prefix === '' ? name : `${prefix}.${name}`;
    if (!isPlainObject(definition)) throw mapperParsing(`Expected map for property [fields] on field [${path}]`);
    const existing = target.properties.get(name);
    const type = definition['type'];
    const isObject = type === undefined || type === 'object' || type === 'nested';
    if (isObject) {
      if (existing !== undefined && existing.kind === 'leaf') {
        throw illegalMerge(`can't merge a non object mapping [${path}] with an object mapping`);
      }
      const object = existing ?? newObjectMapping();
      object.nested = type === 'nested';
      if (definition['dynamic'] !== undefined) object.dynamic = parseDynamic(definition['dynamic'], path);
      if (definition['enabled'] === false) object.enabled = false;
      const children = definition['properties'];
      if (children !== undefined) {
        if (!isPlainObject(children)) throw mapperParsing(`Expected map for property [properties] on field [${path}]`);
        mergeProperties(object, children, path);
      }
      target.properties.set(name, object);
      continue;
    }
    const leaf = leafFromDefinition(path, definition);
    if (existing !== undefined) {
      if (existing.kind === 'object') throw illegalMerge(`can't merge a non object mapping [${path}] with an object mapping`);
      if (existing.type !== leaf.type) {
        throw illegalMerge(`mapper [${path}] cannot be changed from type [${existing.type}] to [${leaf.type}]`);
      }
    }
    target.properties.set(name, leaf);
  }
}

function parseDynamic(value: unknown, path: string): DynamicMode {
  const text = String(value);
  if (text === 'true' || text === 'false' || text === 'strict' || text === 'runtime') return text;
  throw mapperParsing(`Could not convert [dynamic] to boolean or [strict] or [runtime] for field [${path}]`);
}

/** Renders the mapping the way `GET /{index}/_mapping` shows it (properties sorted by name). */
export function renderMapping(root: RootMapping): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (root.dynamic !== undefined) out['dynamic'] = root.dynamic;
  if (!root.dateDetection) out['date_detection'] = false;
  if (root.numericDetection) out['numeric_detection'] = true;
  Object.assign(out, root.extras);
  if (root.properties.size > 0) out['properties'] = renderProperties(root.properties);
  return out;
}

function renderProperties(properties: Map<string, FieldMapping>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of [...properties.keys()].sort()) {
    const field = properties.get(name)!;
    if (field.kind === 'leaf') {
      out[name] = field.definition;
      continue;
    }
    const rendered: Record<string, unknown> = {};
    if (field.nested) rendered['type'] = 'nested';
    if (field.dynamic !== undefined) rendered['dynamic'] = field.dynamic;
    if (!field.enabled) rendered['enabled'] = false;
    if (field.properties.size > 0) rendered['properties'] = renderProperties(field.properties);
    else if (!field.nested) rendered['type'] = 'object';
    out[name] = rendered;
  }
  return out;
}

/** Counts mapped fields the way `index.mapping.total_fields.limit` does (objects and multi-fields included). */
export function countFields(object: ObjectMapping): number {
  let count = 0;
  for (const field of object.properties.values()) {
    count += 1;
    count += field.kind === 'leaf' ? field.fields.size : countFields(field);
  }
  return count;
}

/**
 * Flattens the tree into `path → ResolvedField` for queries and sorting. Rebuilt only when the mapping changes,
 * so a search does one Map lookup per field instead of walking the tree.
 */
export function flattenFields(root: RootMapping): Map<string, ResolvedField> {
  const out = new Map<string, ResolvedField>();
  const walk = (object: ObjectMapping, prefix: string[]): void => {
    for (const [name, field] of object.properties) {
      const path = [...prefix, name];
      if (field.kind === 'object') {
        walk(field, path);
        continue;
      }
      out.set(path.join('.'), { type: field.type, sourcePath: path, ignoreAbove: field.ignoreAbove, format: field.format });
      for (const [subName, sub] of field.fields) {
        out.set([...path, subName].join('.'), {
          type: sub.type, sourcePath: path, ignoreAbove: sub.ignoreAbove, format: sub.format,
        });
      }
    }
  };
  walk(root, []);
  return out;
}

/** Whether `path` names an object mapper (for `exists` and "tried to parse … as object" checks). */
export function objectPaths(root: RootMapping): Set<string> {
  const out = new Set<string>();
  const walk = (object: ObjectMapping, prefix: string): void => {
    for (const [name, field] of object.properties) {
      if (field.kind !== 'object') continue;
      const path = prefix === '' ? name : `${prefix}.${name}`;
      out.add(path);
      walk(field, path);
    }
  };
  walk(root, '');
  return out;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function mapperParsing(reason: string): EsError {
  return new EsError(400, { type: 'mapper_parsing_exception', reason });
}

function illegalMerge(reason: string): EsError {
  return new EsError(400, { type: 'illegal_argument_exception', reason });
}
