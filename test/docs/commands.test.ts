// Every `sluice …` command shown in README.md and docs/ parses with the CLI's own argument parser: verb, flags and
// flag values as the verb declares them (check-only mode runs the real parser, then stops before the verb acts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { test } from 'node:test';
import { documentationFiles, ROOT } from '../support/documentation-files.ts';
import { commandLineCheck } from '../../runtime/cli/arguments.ts';
import { main } from '../../runtime/cli/main.ts';

/** Splits a shell command line into words (quotes kept together, a `#` comment dropped). */
function words(line: string): string[] {
  const out: string[] = [];
  let word = '';
  let quote: string | undefined;
  let started = false;
  for (const ch of line) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined;
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
    } else if (ch === '#' && !started && word === '') {
      break;
    } else if (/\s/.test(ch)) {
      if (started || word !== '') out.push(word);
      word = '';
      started = false;
    } else {
      word += ch;
      started = true;
    }
  }
  if (started || word !== '') out.push(word);
  return out;
}

/** The sluice arguments of a command line, or undefined when it is not a sluice command (or holds placeholders). */
function sluiceArguments(line: string): string[] | undefined {
  let w = words(line.replace(/^\$\s+/, ''));
  while (w[0] !== undefined && /^[A-Z_]+=/.test(w[0])) w = w.slice(1);
  if (w[0] === 'npx' && w[1] === 'sluice') w = w.slice(2);
  else if (w[0] === 'npx' && w[1] === 'tsx' && w[2] === 'runtime/cli/main.ts') w = w.slice(3);
  else if (w[0] === 'sluice') w = w.slice(1);
  else return undefined;
  if (w.length === 0 || w.some((x) => /[<>|…]|\.\.\./.test(x))) return undefined;
  // A shell sequence after the command (`&& …`, `;`) is not part of it.
  const end = w.findIndex((x) => x === '&&' || x === ';' || x === '||');
  return end < 0 ? w : w.slice(0, end);
}

/** Contents of the fenced blocks marked sh/bash/shell/console or unmarked, fences read line by line. */
function shellBlocks(text: string): string[] {
  const blocks: string[] = [];
  let current: string[] | undefined;
  let shell = false;
  for (const line of text.split('\n')) {
    const fence = /^\s*```(\S*)/.exec(line);
    if (fence !== null) {
      if (current === undefined) {
        current = [];
        shell = ['', 'sh', 'bash', 'shell', 'console'].includes(fence[1] as string);
      } else {
        if (shell) blocks.push(current.join('\n'));
        current = undefined;
      }
    } else if (current !== undefined) current.push(line);
  }
  return blocks;
}

/** The text outside fenced blocks. */
function proseOf(text: string): string {
  let inFence = false;
  return text
    .split('\n')
    .filter((line) => {
      if (/^\s*```/.test(line)) inFence = !inFence;
      else if (!inFence) return true;
      return false;
    })
    .join('\n');
}

function documentedCommands(): Array<{ where: string; line: string; args: string[] }> {
  const found: Array<{ where: string; line: string; args: string[] }> = [];
  for (const file of documentationFiles()) {
    const text = readFileSync(file, 'utf8');
    const where = relative(ROOT, file);
    for (const block of shellBlocks(text)) {
      for (const line of block.replace(/\\\n\s*/g, ' ').split('\n')) {
        const args = sluiceArguments(line.trim());
        if (args !== undefined) found.push({ where, line: line.trim(), args });
      }
    }
    for (const span of proseOf(text).matchAll(/`((?:npx )?sluice [^`]+)`/g)) {
      const args = sluiceArguments(span[1] as string);
      if (args !== undefined) found.push({ where, line: span[1] as string, args });
    }
  }
  return found;
}

test('every sluice command shown in README.md and docs/ parses with the CLI’s own argument parser', async (t) => {
  const commands = documentedCommands();
  assert.ok(commands.length >= 30, `found the documented commands (${commands.length})`);
  t.diagnostic(`${commands.length} documented commands checked`);
  const refused: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  commandLineCheck.enabled = true;
  (process.stderr as { write: unknown }).write = (chunk: string | Uint8Array) => ((stderr += String(chunk)), true);
  t.after(() => {
    commandLineCheck.enabled = false;
    (process.stderr as { write: unknown }).write = write;
  });
  for (const { where, line, args } of commands) {
    stderr = '';
    const code = await main(args);
    if (code !== 0) refused.push(`${where}: ${line} → exit ${code}: ${stderr.split('\n')[0]}`);
  }
  commandLineCheck.enabled = false;
  (process.stderr as { write: unknown }).write = write;
  assert.deepEqual(refused, []);
});

test('check-only mode still refuses what the parser refuses', async (t) => {
  commandLineCheck.enabled = true;
  const write = process.stderr.write.bind(process.stderr);
  (process.stderr as { write: unknown }).write = () => true;
  t.after(() => {
    commandLineCheck.enabled = false;
    (process.stderr as { write: unknown }).write = write;
  });
  assert.equal(await main(['run', 'jobs/wordcount.ts', '--no-such-flag']), 2);
  assert.equal(await main(['frobnicate']), 2);
  assert.equal(await main(['submit', 'x.ts', '-p']), 2);
  assert.equal(await main(['status', 'orders', '--json']), 0);
});
