#!/usr/bin/env node
// The `sluice` command. Job files are TypeScript run without a build step, so tsx is registered here for them (the
// user does not install it). Sluice itself runs as the compiled JS in dist/ that the package ships; in a clone of
// the repo, where the sources sit next to this file, it runs from them instead, so a stale dist/ left by
// `npm pack` or `npm run build` is never what the repo's tests and `npx sluice` run.
import { existsSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const source = new URL('../runtime/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/runtime/cli/main.js', import.meta.url);
const { main } = await import(existsSync(source) ? source.href : compiled.href);
process.exitCode = await main(process.argv.slice(2));
