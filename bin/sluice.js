#!/usr/bin/env node
// The published entry point: registers tsx so the CLI (and the user's job files) run as TypeScript.
import { register } from 'tsx/esm/api';
register();
await import('../runtime/cli/main.ts');
