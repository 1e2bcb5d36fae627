/**
 * One status line at the bottom of a terminal, with log lines printed above it: before a log line is written the
 * status line is cleared, after it the status line is drawn again. Without this, a log line written while the
 * progress line is up lands after it (`checkpoint 37[17:39:07.738] INFO …`).
 *
 * Everything that writes to the terminal's stderr must go through one StatusLine: the logger's destination is
 * {@link StatusLine.write}.
 *
 * @example
 * ```ts
 * const status = new StatusLine(process.stderr);
 * const logger = createLogger({ destination: status });
 * status.show('in 12k/s (1.2M)  out 12k/s (1.2M)  checkpoint 41');
 * ```
 */
export class StatusLine {
  readonly #stream: { write(text: string): unknown };
  #line = '';

  constructor(stream: { write(text: string): unknown }) {
    this.#stream = stream;
  }

  /** Replaces the status line. */
  show(line: string): void {
    // One line only: a wrapped or multi-line status could not be cleared with a single \r.
    this.#line = line.split('\n')[0] ?? '';
    this.#stream.write(`${CLEAR}${this.#line}`);
  }

  /** Removes the status line (at the end of a run). */
  clear(): void {
    if (this.#line === '') return;
    this.#line = '';
    this.#stream.write(CLEAR);
  }

  /** Writes whole lines above the status line. */
  write(text: string): void {
    if (this.#line === '') {
      this.#stream.write(text);
      return;
    }
    this.#stream.write(`${CLEAR}${text}${text.endsWith('\n') ? '' : '\n'}${this.#line}`);
  }
}

/** Carriage return, then erase the whole line (ANSI EL 2). */
const CLEAR = '\r\x1b[2K';
