/** The code version stored with every run: package version plus the git commit when known. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const packageVersion: string = (
  JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

let cached: string | undefined;
export function codeVersion(): string {
  if (cached) return cached;
  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    // not a git checkout (an installed package): the version alone
  }
  cached = commit ? `${packageVersion}+${commit}` : packageVersion;
  return cached;
}
