/**
 * Finds where a value sits in a JSON text, as `line:column` (1-based, like Jackson's token locations), so a
 * mapping failure can start with the `[1:15]` prefix a real node puts on `document_parsing_exception` reasons.
 *
 * Only runs on the error path: the document was already parsed once with JSON.parse; this scans the text again
 * without building values.
 */
export interface JsonLocation {
  /** Where the field's name starts (the opening quote). */
  key: string;
  /** Where the field's value starts. */
  value: string;
}

export function locate(text: string, path: ReadonlyArray<string | number>): JsonLocation {
  const scanner = new Scanner(text);
  let keyAt = 0;
  try {
    scanner.skipSpace();
    for (const step of path) {
      const c = text[scanner.pos];
      if (c === '{' && typeof step === 'string') {
        keyAt = scanner.findKey(step);
      } else if (c === '[' && typeof step === 'number') {
        scanner.findElement(step);
      } else {
        break;
      }
    }
  } catch {
    // A path the text does not have (e.g. a merged update document): fall back to where we got.
  }
  return { key: scanner.describe(keyAt), value: scanner.describe(scanner.pos) };
}

class Scanner {
  readonly #text: string;
  pos = 0;

  constructor(text: string) {
    this.#text = text;
  }

  describe(offset: number): string {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < offset && i < this.#text.length; i++) {
      if (this.#text.charCodeAt(i) === 10) {
        line += 1;
        lineStart = i + 1;
      }
    }
    return `${line}:${offset - lineStart + 1}`;
  }

  skipSpace(): void {
    while (this.pos < this.#text.length && /\s/.test(this.#text[this.pos]!)) this.pos += 1;
  }

  /** At `{`: moves to the value of `key`, returns where the key starts. */
  findKey(key: string): number {
    this.pos += 1;
    for (;;) {
      this.skipSpace();
      if (this.#text[this.pos] === '}') throw new Error('key not found');
      const keyStart = this.pos;
      const name = this.readString();
      this.skipSpace();
      this.pos += 1; // ':'
      this.skipSpace();
      if (name === key) return keyStart;
      this.skipValue();
      this.skipSpace();
      if (this.#text[this.pos] === ',') this.pos += 1;
    }
  }

  /** At `[`: moves to element `index`. */
  findElement(index: number): void {
    this.pos += 1;
    for (let i = 0; ; i++) {
      this.skipSpace();
      if (this.#text[this.pos] === ']') throw new Error('element not found');
      if (i === index) return;
      this.skipValue();
      this.skipSpace();
      if (this.#text[this.pos] === ',') this.pos += 1;
    }
  }

  readString(): string {
    const start = this.pos;
    this.pos += 1;
    while (this.pos < this.#text.length && this.#text[this.pos] !== '"') {
      this.pos += this.#text[this.pos] === '\\' ? 2 : 1;
    }
    this.pos += 1;
    return JSON.parse(this.#text.slice(start, this.pos)) as string;
  }

  skipValue(): void {
    const c = this.#text[this.pos];
    if (c === '"') {
      this.readString();
      return;
    }
    if (c === '{' || c === '[') {
      let depth = 0;
      while (this.pos < this.#text.length) {
        const ch = this.#text[this.pos]!;
        if (ch === '"') {
          this.readString();
          continue;
        }
        if (ch === '{' || ch === '[') depth += 1;
        if (ch === '}' || ch === ']') depth -= 1;
        this.pos += 1;
        if (depth === 0) return;
      }
      return;
    }
    while (this.pos < this.#text.length && !/[,}\]\s]/.test(this.#text[this.pos]!)) this.pos += 1;
  }
}
