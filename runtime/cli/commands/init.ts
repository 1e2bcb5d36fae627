import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { SluiceError } from '../../errors/index.ts';
import { parseCommandLine } from '../arguments.ts';
import { projectFiles, type ProjectVersions } from '../init/project-files.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const INIT_USAGE = `Usage: sluice init <dir>

Creates a project in <dir> (new or empty): package.json depending on sluice, tsconfig.json, an example job
(jobs/example.ts), its test (test/example.test.ts) and a README. Then: cd <dir> && npm install && npm start.

Options:
  -h, --help   show this help`;

interface OwnManifest {
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** `sluice init <dir>`: writes a new project and prints what to run next. */
export async function initCommand(args: readonly string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, { help: { type: 'boolean', short: 'h' } }, INIT_USAGE);
  if (values.help === true) {
    out.write(`${INIT_USAGE}\n`);
    return EXIT.ok;
  }
  const target = positionals[0];
  if (target === undefined) throw new UsageError('sluice init needs a directory', INIT_USAGE);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, INIT_USAGE);
  const dir = resolve(target);
  const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new SluiceError('SLUICE_INIT_FAILED', `cannot create a project in ${dir}: ${err.message}`, { cause: err });
  });
  if (existing.length > 0) {
    throw new SluiceError('SLUICE_INIT_DIR_NOT_EMPTY', `${dir} is not empty (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', …' : ''}): give a new or empty directory, so sluice init overwrites nothing`);
  }
  const files = projectFiles(packageName(basename(dir)), ownVersions());
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content, { flag: 'wx' });
  }
  out.write(`created a Sluice project in ${dir}:\n${Object.keys(files).map((f) => `  ${f}\n`).join('')}\nnext:\n  cd ${target}\n  npm install && npm start   # run the example job\n  npm test                   # type-check and test it\n`);
  return EXIT.ok;
}

/** The versions the running Sluice was published with: its own and those of the tools its jobs run with. */
function ownVersions(): ProjectVersions {
  // Self-reference through package.json "exports": the same from dist/ (installed) and from the sources (repo).
  const manifest = createRequire(import.meta.url)('sluice/package.json') as OwnManifest;
  return {
    sluice: `^${manifest.version}`,
    tsx: manifest.dependencies?.['tsx'] ?? '^4.20.0',
    typescript: manifest.devDependencies?.['typescript'] ?? '~5.9.3',
    typesNode: manifest.devDependencies?.['@types/node'] ?? '^20.19.0',
  };
}

/** npm package names are lower case, URL-safe, at most 214 characters. */
function packageName(dirName: string): string {
  const name = dirName.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '').slice(0, 214);
  return name === '' ? 'sluice-jobs' : name;
}
