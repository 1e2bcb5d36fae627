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
 * Hot path for bulk. A class with prototype methods and one mutable JSON-path stack, because the first version
 * (six closures per document, a path array copied per field) showed closure creation (`__name`, which tsx's
 * keepNames wraps around each) as the top self-time entry of a bulk profile, ahead of JSON.parse.
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

class Failure {
  readonly cause: EsCause;
  constructor(cause: EsCause) {
    this.cause = cause;
  }
}

export function parseDocument(ctx: ParseContext, source: Record<string, unknown>): ParseResult {
  const walker = new DocumentWalker(ctx);
  try {
    walker.walkObject(ctx.root, '', source, ctx.root.dynamic ?? 'true');
    return { ok: true, added: walker.added };
  } catch (err) {
    walker.rollback();
    if (err instanceof Failure) return { ok: false, cause: err.cause };
    throw err;
  }
}

class DocumentWalker {
  readonly #ctx: ParseContext;
  /** The JSON path of the value being checked (keys and array positions), for error locations. */
  readonly #path: Array<string | number> = [];
  #additions: Array<{ parent: ObjectMapping; name: string }> | undefined;
  added = 0;

  constructor(ctx: ParseContext) {
    this.#ctx = ctx;
  }

  rollback(): void {
    const additions = this.#additions;
    if (additions === undefined) return;
    for (let i = additions.length - 1; i >= 0; i--) additions[i]!.parent.properties.delete(additions[i]!.name);
  }

  #where(kind: 'key' | 'value'): string {
    return locate(this.#ctx.text(), this.#path)[kind];
  }

  #fail(cause: EsCause): never {
    throw new Failure(cause);
  }

  #leafFailure(leaf: LeafMapping, fullPath: string, value: unknown, cause: EsCause | undefined): never {
    const failure: EsCause = {
      type: 'document_parsing_exception',
      reason: `[${this.#where('value')}] failed to parse field [${fullPath}] of type [${leaf.type}] in document with id '${this.#ctx.id}'. ` +
        `Preview of field's value: '${javaPreview(value)}'`,
    };
    if (cause !== undefined) failure.caused_by = cause;
    return this.#fail(failure);
  }

  #checkLeaf(leaf: LeafMapping, fullPath: string, value: unknown): void {
    if (value === null) return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        this.#path.push(i);
        this.#checkLeaf(leaf, fullPath, value[i]);
        this.#path.pop();
      }
      return;
    }
    if (typeof value === 'object') {
      const where = this.#where('value');
      const cause: EsCause = leaf.type === 'text' || leaf.type === 'keyword' || leaf.type === 'match_only_text'
        ? { type: 'illegal_state_exception', reason: `Can't get text on a START_OBJECT at ${where}` }
        : { type: 'x_content_parse_exception', reason: `[${where}] Current token (START_OBJECT) not numeric, can not use numeric value accessors` };
      this.#leafFailure(leaf, fullPath, value, cause);
    }
    const converted = convertValue(leaf, value as string | number | boolean);
    if (!converted.ok) this.#leafFailure(leaf, fullPath, value, converted.cause);
  }

  #strict(name: string, parentPath: string): never {
    return this.#fail({
      type: 'strict_dynamic_mapping_exception',
      reason: `[${this.#where('key')}] mapping set to strict, dynamic introduction of [${name}] within [${parentPath === '' ? '_doc' : parentPath}] is not allowed`,
    });
  }

  #add(parent: ObjectMapping, name: string, mapper: FieldMapping): void {
    parent.properties.set(name, mapper);
    (this.#additions ??= []).push({ parent, name });
    this.added += 1 + (mapper.kind === 'leaf' ? mapper.fields.size : 0);
    if (this.#ctx.fieldCount + this.added > this.#ctx.fieldLimit) {
      const message = `Limit of total fields [${this.#ctx.fieldLimit}] has been exceeded while adding new fields [${this.added}]`;
      this.#fail({
        type: 'document_parsing_exception',
        reason: `[${this.#where('key')}] failed to parse: ${message}`,
        caused_by: { type: 'illegal_argument_exception', reason: message },
      });
    }
  }

  #walkField(parent: ObjectMapping, parentPath: string, name: string, value: unknown, dynamic: DynamicMode): void {
    if (value === null || value === undefined) return;
    const fullPath = parentPath === '' ? name : `${parentPath}.${name}`;
    let mapper: FieldMapping | undefined = parent.properties.get(name);
    if (mapper === undefined) {
      if (dynamic === 'false' || dynamic === 'runtime') return;
      if (dynamic === 'strict') this.#strict(name, parentPath);
      mapper = inferMapping(value, this.#ctx.root, fullPath);
      if (mapper === undefined) return;
      this.#add(parent, name, mapper);
    }
    if (mapper.kind === 'leaf') {
      this.#checkLeaf(mapper, fullPath, value);
      return;
    }
    if (!mapper.enabled) return;
    this.#walkObjectValue(mapper, fullPath, name, value, mapper.dynamic ?? dynamic);
  }

  #walkObjectValue(mapper: ObjectMapping, fullPath: string, name: string, value: unknown, dynamic: DynamicMode): void {
    if (value === null) return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        this.#path.push(i);
        this.#walkObjectValue(mapper, fullPath, name, value[i], dynamic);
        this.#path.pop();
      }
      return;
    }
    if (!isPlainObject(value)) {
      this.#fail({
        type: 'document_parsing_exception',
        reason: `[${this.#where('value')}] object mapping for [${fullPath}] tried to parse field [${name}] as object, but found a concrete value`,
      });
    }
    this.walkObject(mapper, fullPath, value, dynamic);
  }

  walkObject(object: ObjectMapping, objectPath: string, value: Record<string, unknown>, dynamic: DynamicMode): void {
    for (const key in value) {
      this.#path.push(key);
      if (key.length > 1 && key.includes('.')) {
        this.#walkDotted(object, objectPath, key.split('.'), value[key], dynamic);
      } else {
        if (key.trim() === '') {
          this.#fail({ type: 'document_parsing_exception', reason: `[${this.#where('key')}] Field name cannot contain only whitespace: ['${key}']` });
        }
        this.#walkField(object, objectPath, key, value[key], dynamic);
      }
      this.#path.pop();
    }
  }

  /** `{"a.b": 1}` is the field `b` of object `a`, as ES expands dotted names. */
  #walkDotted(object: ObjectMapping, objectPath: string, parts: string[], value: unknown, dynamic: DynamicMode): void {
    let current = object;
    let currentPath = objectPath;
    let currentDynamic = dynamic;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i]!;
      const path = currentPath === '' ? part : `${currentPath}.${part}`;
      let next = current.properties.get(part);
      if (next === undefined) {
        if (currentDynamic === 'strict') this.#strict(part, currentPath);
        if (currentDynamic !== 'true') return;
        next = newObjectMapping();
        this.#add(current, part, next);
      }
      if (next.kind === 'leaf') {
        this.#fail({
          type: 'document_parsing_exception',
          reason: `[${this.#where('key')}] Could not dynamically add mapping for field [${parts.join('.')}]. ` +
            `Existing mapping for [${path}] must be of type object but found [${next.type}].`,
        });
      }
      current = next;
      currentPath = path;
      currentDynamic = next.dynamic ?? currentDynamic;
    }
    this.#walkField(current, currentPath, parts[parts.length - 1]!, value, currentDynamic);
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
