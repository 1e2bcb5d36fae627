/**
 * The date formats the devstack understands, enough for ES's defaults: `strict_date_optional_time`
 * (ISO 8601 with optional parts), `epoch_millis`, `epoch_second`, and the `yyyy/MM/dd[ HH:mm:ss]` format that
 * default dynamic date detection also recognises. A `format` we do not know falls back to the default pair.
 */

export const DEFAULT_DATE_FORMAT = 'strict_date_optional_time||epoch_millis';
/** The format ES writes into a dynamically detected `yyyy/MM/dd` date field. */
export const SLASH_DATE_FORMAT = 'yyyy/MM/dd HH:mm:ss||yyyy/MM/dd||epoch_millis';

const ISO = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const SLASHED = /^(\d{4})\/(\d{2})\/(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?(?: ?(Z|[+-]\d{2}:?\d{2}))?$/;

/** Parses `text` as `strict_date_optional_time`; epoch millis or `undefined`. */
export function parseIsoDate(text: string): number | undefined {
  const m = ISO.exec(text);
  if (m === null) return undefined;
  // A zone without a time ("2024-01-01Z") is not valid ISO; ES rejects it too.
  if (m[8] !== undefined && m[4] === undefined && m[2] !== undefined) return undefined;
  return fromParts(m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]);
}

function parseSlashedDate(text: string): number | undefined {
  const m = SLASHED.exec(text);
  if (m === null) return undefined;
  return fromParts(m[1], m[2], m[3], m[4], m[5], m[6], undefined, m[7]);
}

function fromParts(
  year: string | undefined, month: string | undefined, day: string | undefined,
  hour: string | undefined, minute: string | undefined, second: string | undefined,
  fraction: string | undefined, zone: string | undefined,
): number | undefined {
  const y = Number(year);
  const mo = month === undefined ? 1 : Number(month);
  const d = day === undefined ? 1 : Number(day);
  const h = hour === undefined ? 0 : Number(hour);
  const mi = minute === undefined ? 0 : Number(minute);
  const s = second === undefined ? 0 : Number(second);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  if (d > 28 && d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return undefined;
  const millis = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  let epoch = Date.UTC(y, mo - 1, d, h, mi, s, millis);
  if (y < 100) epoch = new Date(epoch).setUTCFullYear(y);
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = Number(digits.slice(0, 2)) * 60 + (digits.length > 2 ? Number(digits.slice(2)) : 0);
    epoch -= sign * offset * 60_000;
  }
  return epoch;
}

/** Which dynamic date format `text` matches, if any (ES's default `dynamic_date_formats`). */
export function detectDateFormat(text: string): 'iso' | 'slashed' | undefined {
  if (parseIsoDate(text) !== undefined) return 'iso';
  if (parseSlashedDate(text) !== undefined) return 'slashed';
  return undefined;
}

/**
 * Parses a date field value with the field's `format` (`a||b||…`). Numbers are epoch millis (or seconds for
 * `epoch_second`), as ES reads a JSON number in a date field.
 */
export function parseDateValue(value: string | number, format: string | undefined): number | undefined {
  if (format === undefined) {
    // The default format on the hot path: no split, no switch.
    return typeof value === 'string' ? (parseIsoDate(value) ?? toEpoch(value, 1)) : toEpoch(value, 1);
  }
  const formats = format.split('||');
  for (const name of formats) {
    const parsed = parseWith(name.trim(), value);
    if (parsed !== undefined) return parsed;
  }
  return undefined;
}

function parseWith(format: string, value: string | number): number | undefined {
  switch (format) {
    case 'epoch_millis':
      return toEpoch(value, 1);
    case 'epoch_second':
      return toEpoch(value, 1000);
    case 'strict_date_optional_time':
    case 'date_optional_time':
    case 'strict_date_optional_time_nanos':
    case 'strict_date_time':
    case 'date_time':
    case 'strict_date':
    case 'date':
    case 'yyyy-MM-dd':
    case "yyyy-MM-dd'T'HH:mm:ss":
    case "yyyy-MM-dd'T'HH:mm:ss.SSSZ":
      return typeof value === 'string' ? parseIsoDate(value) : undefined;
    case 'yyyy/MM/dd HH:mm:ss':
    case 'yyyy/MM/dd':
    case 'yyyy/MM/dd HH:mm:ss Z':
    case 'yyyy/MM/dd Z':
      return typeof value === 'string' ? parseSlashedDate(value) : undefined;
    default:
      // An unknown custom pattern: be lenient rather than reject data a real node would accept.
      return typeof value === 'string' ? (parseIsoDate(value) ?? parseSlashedDate(value)) : toEpoch(value, 1);
  }
}

function toEpoch(value: string | number, scale: number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value * scale) : undefined;
  if (!/^-?\d+(\.\d+)?$/.test(value)) return undefined;
  return Math.trunc(Number(value) * scale);
}
