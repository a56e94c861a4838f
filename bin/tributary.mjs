#!/usr/bin/env node
// The `tributary` command: registers tsx so the TypeScript CLI runs without a build step, then hands over.
import { register } from 'tsx/esm/api';

register();
const { main } = await import(new URL('../cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
