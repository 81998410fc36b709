#!/usr/bin/env node
// Runs the TypeScript CLI in this same process through tsx's loader, so `npx walwatch` works from a
// checkout without a build step and signals reach the command directly.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
