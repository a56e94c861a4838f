/** Running the `tributary` command as a user would: `node bin/tributary.mjs …` in a child process. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(projectRoot, 'bin', 'tributary.mjs');

export function tributary(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: timeoutMs,
  });
  const lines = result.stdout.trim().split('\n');
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, lastLine: lines.at(-1) ?? '' };
}

export function makeTempDir(prefix = 'tributary-cli-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
