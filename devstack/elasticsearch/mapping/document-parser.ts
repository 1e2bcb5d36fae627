import type { EsCause } from '../errors.ts';
import { inferMapping } from './dynamic-mapping.ts';
import { convertValue } from './field-values.ts';
import { locate } from './json-location.ts';
import {
  countFields, isPlainObject, newObjectMapping,
  type DynamicMode, type FieldMapping, type LeafMapping, type ObjectMapping, type RootMapping,
} from './mapping-tree.ts';

/**
 * Checks a document against an index mapping the way ES's DocumentParser does, adding dynamic mappings for new
 * fields. A failing document leaves the mapping untouched (its additions are rolled back), like ES which only
 * publishes the mapping update of a document that parsed.
 *
 * Hot path for bulk: a document whose fields are all mapped allocates nothing but the walk's frames.
 */

export interface ParseContext {
  root: RootMapping;
  id: string;
  /** The document's JSON text, for the `[line:col]` prefix of failures (only read on failure). */
  text: () => string;
  fieldLimit: number;
  /** Mapped fields before this document (kept by the index so the limit check is O(new fields)). */
  fieldCount: number;
}

export type ParseResult = { ok: true; added: number } | { ok: false; cause: EsCause };

type JsonPath = Array<string | number>;

class Failure {
  readonly cause: EsCause;
  constructor(cause: EsCause) {
    this.cause = cause;
  }
}

export function parseDocument(ctx: ParseContext, source: Record<string, unknown>): ParseResult {
  const additions: Array<{ parent: ObjectMapping; name: string }> = [];
  let added = 0;

  const fail = (cause: EsCause): never => {
    throw new Failure(cause);
  };

  const leafFailure = (leaf: LeafMapping, fullPath: string, value: unknown, jsonPath: JsonPath, cause: EsCause | undefined): never => {
    const where = locate(ctx.text(), jsonPath).value;
    const failure: EsCause = {
      type: 'document_parsing_exception',
      reason: `[${where}] failed to parse field [${fullPath}] of type [${leaf.type}] in document with id '${ctx.id}'. ` +
        `Preview of field's value: '${javaPreview(value)}'`,
    };
    if (cause !== undefined) failure.caused_by = cause;
    return fail(failure);
  };

  const checkLeaf = (leaf: LeafMapping, fullPath: string, value: unknown, jsonPath: JsonPath): void => {
    if (value === null) return;
    if (Array.isArray(value)) {
      value.forEach((element, i) => checkLeaf(leaf, fullPath, element, [...jsonPath, i]));
      return;
    }
    if (typeof value === 'object') {
      const where = locate(ctx.text(), jsonPath).value;
      const cause: EsCause = leaf.type === 'text' || leaf.type === 'keyword' || leaf.type === 'match_only_text'
        ? { type: 'illegal_state_exception', reason: `Can't get text on a START_OBJECT at ${where}` }
        : { type: 'x_content_parse_exception', reason: `[${where}] Current token (START_OBJECT) not numeric, can not use numeric value accessors` };
      leafFailure(leaf, fullPath, value, jsonPath, cause);
    }
    const converted = convertValue(leaf, value as string | number | boolean);
    if (!converted.ok) leafFailure(leaf, fullPath, value, jsonPath, converted.cause);
  };

  const walkField = (
    parent: ObjectMapping, parentPath: string, name: string, value: unknown, jsonPath: JsonPath, dynamic: DynamicMode,
  ): void => {
    if (value === null || value === undefined) return;
    const fullPath = parentPath === '' ? name : `${parentPath}.${name}`;
    let mapper: FieldMapping | undefined = parent.properties.get(name);
    if (mapper === undefined) {
      if (dynamic === 'false' || dynamic === 'runtime') return;
      if (dynamic === 'strict') {
        const where = locate(ctx.text(), jsonPath).key;
        fail({
          type: 'strict_dynamic_mapping_exception',
          reason: `[${where}] mapping set to strict, dynamic introduction of [${name}] within [${parentPath === '' ? '_doc' : parentPath}] is not allowed`,
        });
      }
      mapper = inferMapping(value, ctx.root, fullPath);
      if (mapper === undefined) return;
      parent.properties.set(name, mapper);
      additions.push({ parent, name });
      added += 1 + (mapper.kind === 'leaf' ? mapper.fields.size : 0);
      if (ctx.fieldCount + added > ctx.fieldLimit) {
        const message = `Limit of total fields [${ctx.fieldLimit}] has been exceeded while adding new fields [${added}]`;
        fail({
          type: 'document_parsing_exception',
          reason: `[${locate(ctx.text(), jsonPath).key}] failed to parse: ${message}`,
          caused_by: { type: 'illegal_argument_exception', reason: message },
        });
      }
    }
    if (mapper.kind === 'leaf') {
      checkLeaf(mapper, fullPath, value, jsonPath);
      return;
    }
    if (!mapper.enabled) return;
    const childDynamic = mapper.dynamic ?? dynamic;
    const walkObjectValue = (element: unknown, path: JsonPath): void => {
      if (element === null) return;
      if (Array.isArray(element)) {
        element.forEach((inner, i) => walkObjectValue(inner, [...path, i]));
        return;
      }
      if (!isPlainObject(element)) {
        const where = locate(ctx.text(), path).value;
        fail({
          type: 'document_parsing_exception',
          reason: `[${where}] object mapping for [${fullPath}] tried to parse field [${name}] as object, but found a concrete value`,
        });
      }
      walkObject(mapper as ObjectMapping, fullPath, element as Record<string, unknown>, path, childDynamic);
    };
    walkObjectValue(value, jsonPath);
  };

  const walkObject = (
    object: ObjectMapping, objectPath: string, value: Record<string, unknown>, jsonPath: JsonPath, dynamic: DynamicMode,
  ): void => {
    for (const key in value) {
      const fieldValue = value[key];
      const fieldJsonPath = [...jsonPath, key];
      if (key.includes('.') && key.length > 1) {
        walkDotted(object, objectPath, key.split('.'), fieldValue, fieldJsonPath, dynamic);
        continue;
      }
      if (key === '' || key.trim() === '') {
        fail({ type: 'document_parsing_exception', reason: `[${locate(ctx.text(), fieldJsonPath).key}] Field name cannot contain only whitespace: ['${key}']` });
      }
      walkField(object, objectPath, key, fieldValue, fieldJsonPath, dynamic);
    }
  };

  // `{"a.b": 1}` is the field `b` of object `a`, as ES expands dotted names.
  const walkDotted = (
    object: ObjectMapping, objectPath: string, parts: string[], value: unknown, jsonPath: JsonPath, dynamic: DynamicMode,
  ): void => {
    let current = object;
    let currentPath = objectPath;
    let currentDynamic = dynamic;
    for (const part of parts.slice(0, -1)) {
      const path = currentPath === '' ? part : `${currentPath}.${part}`;
      let next = current.properties.get(part);
      if (next === undefined) {
        if (currentDynamic !== 'true') {
          if (currentDynamic === 'strict') {
            fail({
              type: 'strict_dynamic_mapping_exception',
              reason: `[${locate(ctx.text(), jsonPath).key}] mapping set to strict, dynamic introduction of [${part}] within [${currentPath === '' ? '_doc' : currentPath}] is not allowed`,
            });
          }
          return;
        }
        next = newObjectMapping();
        current.properties.set(part, next);
        additions.push({ parent: current, name: part });
        added += 1;
      }
      if (next.kind === 'leaf') {
        const message = `Could not dynamically add mapping for field [${parts.join('.')}]. Existing mapping for [${path}] must be of type object but found [${next.type}].`;
        fail({ type: 'document_parsing_exception', reason: `[${locate(ctx.text(), jsonPath).key}] ${message}` });
        return;
      }
      current = next;
      currentPath = path;
      currentDynamic = next.dynamic ?? currentDynamic;
    }
    walkField(current, currentPath, parts[parts.length - 1]!, value, jsonPath, currentDynamic);
  };

  try {
    walkObject(ctx.root, '', source, [], ctx.root.dynamic ?? 'true');
    return { ok: true, added };
  } catch (err) {
    for (let i = additions.length - 1; i >= 0; i--) additions[i]!.parent.properties.delete(additions[i]!.name);
    if (err instanceof Failure) return { ok: false, cause: err.cause };
    throw err;
  }
}

/** Total mapped fields of a root, for seeding {@link ParseContext.fieldCount}. */
export function mappedFieldCount(root: RootMapping): number {
  return countFields(root);
}

/** The value preview ES prints: Java's `toString` of the parsed value (`{a=1, b=x}`, `[1, 2]`). */
export function javaPreview(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(javaPreview).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${k}=${javaPreview(v)}`).join(', ')}}`;
  }
  return String(value);
}
