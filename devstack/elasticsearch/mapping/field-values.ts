import { isIP } from 'node:net';
import type { EsCause } from '../errors.ts';
import { analyze } from '../query/analyzer.ts';
import { parseDateValue, DEFAULT_DATE_FORMAT } from './date-formats.ts';
import type { LeafType } from './mapping-tree.ts';

/**
 * How a concrete JSON value becomes an indexed value for a field type, with the failures a real node reports.
 * Used on write (to reject a document the way ES does) and on search (to compare values the way the index holds
 * them: a `float` field holds 32-bit floats, a `date` holds epoch millis, a `text` field holds lowercase tokens).
 */

export type IndexedValue = number | string | boolean;

export type Conversion = { ok: true; value: IndexedValue | null } | { ok: false; cause: EsCause };

/** What a conversion needs to know about a field. */
export interface FieldShape {
  type: LeafType;
  format: string | undefined;
}

const INTEGER_RANGES: Partial<Record<LeafType, { min: number; max: number; article: string }>> = {
  long: { min: -(2 ** 63), max: 2 ** 63 - 1, article: 'a long' },
  integer: { min: -(2 ** 31), max: 2 ** 31 - 1, article: 'an integer' },
  short: { min: -32768, max: 32767, article: 'a short' },
  byte: { min: -128, max: 127, article: 'a byte' },
  unsigned_long: { min: 0, max: 2 ** 64 - 1, article: 'an unsigned_long' },
};

/** Converts one concrete (non-object, non-array) JSON value; `null` means "no value" (ES skips it). */
export function convertValue(field: FieldShape, value: string | number | boolean): Conversion {
  switch (field.type) {
    case 'text':
    case 'match_only_text':
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
      return { ok: true, value: typeof value === 'string' ? value : String(value) };
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'unsigned_long':
      return convertInteger(field.type, value);
    case 'double':
    case 'float':
    case 'half_float':
    case 'scaled_float':
      return convertFloating(field.type, value);
    case 'boolean':
      return convertBoolean(value);
    case 'date':
    case 'date_nanos':
      return convertDate(field.format, value);
    case 'ip':
      return typeof value === 'string' && isIP(value) !== 0
        ? { ok: true, value }
        : fail('illegal_argument_exception', `'${String(value)}' is not an IP string literal.`);
    case 'binary':
      return typeof value === 'string' ? { ok: true, value } : fail('json_parse_exception', 'Current token is not a binary value');
  }
}

function numberFrom(value: string | number | boolean): number | 'empty' | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return undefined;
  const text = value.trim();
  if (text === '') return 'empty';
  const parsed = Number(text);
  return Number.isNaN(parsed) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text) ? undefined : parsed;
}

function notNumeric(value: string | number | boolean): Conversion {
  if (typeof value === 'boolean') {
    return fail('x_content_parse_exception',
      `Current token (${value ? 'VALUE_TRUE' : 'VALUE_FALSE'}) not numeric, can not use numeric value accessors`);
  }
  return fail('illegal_argument_exception', `For input string: "${String(value)}"`);
}

function convertInteger(type: LeafType, value: string | number | boolean): Conversion {
  const parsed = numberFrom(value);
  if (parsed === 'empty') return { ok: true, value: null };
  if (parsed === undefined) return notNumeric(value);
  const range = INTEGER_RANGES[type]!;
  if (!Number.isFinite(parsed) || parsed < range.min || parsed > range.max) {
    return fail('illegal_argument_exception', `Value [${String(value)}] is out of range for ${range.article}`);
  }
  return { ok: true, value: Math.trunc(parsed) };
}

function convertFloating(type: LeafType, value: string | number | boolean): Conversion {
  const parsed = numberFrom(value);
  if (parsed === 'empty') return { ok: true, value: null };
  if (parsed === undefined) return notNumeric(value);
  if (!Number.isFinite(parsed)) return fail('illegal_argument_exception', `[${type}] supports only finite values, but got [${String(value)}]`);
  // A float field stores IEEE single precision: 0.1 is held (and sorted, and returned in `sort`) as 0.10000000149011612.
  return { ok: true, value: type === 'float' || type === 'half_float' ? Math.fround(parsed) : parsed };
}

function convertBoolean(value: string | number | boolean): Conversion {
  if (typeof value === 'boolean') return { ok: true, value };
  if (value === 'true') return { ok: true, value: true };
  if (value === 'false') return { ok: true, value: false };
  if (value === '') return { ok: true, value: null };
  return fail('illegal_argument_exception', `Failed to parse value [${String(value)}] as only [true] or [false] are allowed.`);
}

function convertDate(format: string | undefined, value: string | number | boolean): Conversion {
  if (typeof value !== 'boolean') {
    const millis = parseDateValue(value, format);
    if (millis !== undefined) return { ok: true, value: millis };
  }
  return fail('illegal_argument_exception',
    `failed to parse date field [${String(value)}] with format [${format ?? DEFAULT_DATE_FORMAT}]`);
}

function fail(type: string, reason: string): Conversion {
  return { ok: false, cause: { type, reason } };
}

/** What a search compares for one `_source` value of a field: tokens for text, the converted value otherwise. */
export function indexedTerms(
  field: FieldShape & { ignoreAbove: number | undefined },
  value: string | number | boolean,
): IndexedValue[] {
  const converted = convertValue(field, value);
  if (!converted.ok || converted.value === null) return [];
  if (field.type === 'text' || field.type === 'match_only_text') return analyze(String(converted.value));
  if (field.ignoreAbove !== undefined && typeof converted.value === 'string' && converted.value.length > field.ignoreAbove) {
    return [];
  }
  return [converted.value];
}
