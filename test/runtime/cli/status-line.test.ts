import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatusLine } from '../../../runtime/cli/status-line.ts';
import { createLogger } from '../../../runtime/logging/index.ts';

const CLEAR = '\r\x1b[2K';

/** A fake terminal: applies \r and erase-line to what was written, so tests read the screen, not the bytes. */
function fakeTerminal() {
  let written = '';
  return {
    write(text: string) {
      written += text;
      return true;
    },
    get written() {
      return written;
    },
    screen(): string[] {
      const lines = [''];
      for (const part of written.split(/(\r\x1b\[2K|\n)/)) {
        if (part === CLEAR) lines[lines.length - 1] = '';
        else if (part === '\n') lines.push('');
        else lines[lines.length - 1] += part;
      }
      return lines;
    },
  };
}

test('a log line clears the status line, is written above it, and the status line is drawn again', () => {
  const terminal = fakeTerminal();
  const status = new StatusLine(terminal);
  status.show('in 12k/s (1.2M)  checkpoint 37');
  status.write('[17:39:07.738] INFO: attempt 0 failed\n');
  assert.deepEqual(terminal.screen(), ['[17:39:07.738] INFO: attempt 0 failed', 'in 12k/s (1.2M)  checkpoint 37']);
  assert.ok(!terminal.written.includes('checkpoint 37['), 'never glued to the progress line');
  status.show('in 13k/s (1.3M)  checkpoint 38');
  status.write('a line without its newline');
  assert.deepEqual(terminal.screen(), ['[17:39:07.738] INFO: attempt 0 failed', 'a line without its newline', 'in 13k/s (1.3M)  checkpoint 38']);
  status.clear();
  assert.deepEqual(terminal.screen(), ['[17:39:07.738] INFO: attempt 0 failed', 'a line without its newline', '']);
});

test('without a status line, log lines pass through untouched', () => {
  const terminal = fakeTerminal();
  const status = new StatusLine(terminal);
  status.write('one\n');
  status.clear();
  assert.equal(terminal.written, 'one\n');
});

test('the pretty logger given the status line writes its lines above the progress line', () => {
  const terminal = fakeTerminal();
  const status = new StatusLine(terminal);
  const logger = createLogger({ level: 'info', pretty: true, destination: status });
  status.show('in 1000/s (5000)');
  logger.warn('attempt 0 failed; restarting in 1000 ms');
  const screen = terminal.screen();
  assert.equal(screen.length, 2, JSON.stringify(screen));
  assert.match(screen[0] ?? '', /WARN.*attempt 0 failed; restarting in 1000 ms/);
  assert.equal(screen[1], 'in 1000/s (5000)');
});
