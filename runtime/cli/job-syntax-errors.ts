import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname } from 'node:path';

/**
 * The syntax errors of a job file that failed to import, each as `<file>:<line>:<column>: <what>` (esbuild's
 * positions: line from 1, column from 0), or nothing when `cause` is not a syntax error.
 *
 * tsx compiles `.ts`/`.mts` files with esbuild, whose error says where ("Transform failed with N error(s):\n
 * <file>:<line>:<col>: ERROR: <what>"). A `.js` file is parsed by V8, whose SyntaxError from `import()` carries no
 * position at all, so the file is parsed once more with the esbuild tsx uses, to the same format.
 *
 * @example
 * ```ts
 * await syntaxErrors(err, '/tmp/broken.ts'); // ['/tmp/broken.ts:3:0: Unexpected end of file']
 * ```
 */
export async function syntaxErrors(cause: unknown, path: string): Promise<string[]> {
  const fromEsbuild = esbuildErrors(cause, path);
  // Only a .js job is re-parsed: a SyntaxError can also come from a module the job imports, or be thrown at run time
  // (JSON.parse); the re-parse then finds nothing and the error is reported as it is.
  if (fromEsbuild.length > 0 || !(cause instanceof SyntaxError) || !/\.[cm]?js$/.test(path)) return fromEsbuild;
  try {
    // esbuild is tsx's dependency, not Sluice's: resolving it from tsx finds the copy that is installed.
    const require = createRequire(import.meta.url);
    const esbuild = createRequire(require.resolve('tsx/package.json'))('esbuild') as {
      transform(code: string, options: { loader: 'js'; format: 'esm'; sourcefile: string }): Promise<unknown>;
    };
    await esbuild.transform(await readFile(path, 'utf8'), { loader: 'js', format: 'esm', sourcefile: path });
  } catch (err) {
    return esbuildErrors(err, path);
  }
  return [];
}

function esbuildErrors(cause: unknown, path: string): string[] {
  // tsx hands esbuild a `.mts` file under a `.ts` name; the job file is what the user must open.
  const stem = path.slice(0, path.length - extname(path).length);
  const text = cause instanceof Error ? cause.message : '';
  if (!text.startsWith('Transform failed')) return [];
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^(.*):(\d+):(\d+): ERROR: (.*)$/.exec(line);
    if (match === null) continue;
    const reported = match[1] as string;
    const file = reported.slice(0, reported.length - extname(reported).length) === stem ? path : reported;
    out.push(`${file}:${match[2]}:${match[3]}: ${match[4]}`);
  }
  return out;
}
