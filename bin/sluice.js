#!/usr/bin/env node
// The installed entry point: registers tsx so the CLI and the user's job files run as TypeScript.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../runtime/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
