#!/usr/bin/env node
// Runs the TypeScript sources through tsx, so `npx mailroom` works right after `npm ci` with no
// build step (docs/adr/001-run-typescript-through-tsx.md).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
