// `npm start` builds the Next.js app first when there is no build yet, or when a source file is
// newer than the last build, so a fresh clone needs no separate build step.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const buildId = path.join(root, '.next', 'BUILD_ID');
const sourceDirs = ['app', 'components', 'server', 'db', 'public'];
const configFiles = ['next.config.ts', 'package.json', 'postcss.config.mjs', 'tsconfig.json'];

function newestMtime(entry) {
  if (!fs.existsSync(entry)) return 0;
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return fs
    .readdirSync(entry)
    .reduce((newest, name) => Math.max(newest, newestMtime(path.join(entry, name))), stat.mtimeMs);
}

const builtAt = fs.existsSync(buildId) ? fs.statSync(buildId).mtimeMs : 0;
const sourcesAt = Math.max(...[...sourceDirs, ...configFiles].map((p) => newestMtime(path.join(root, p))));
if (sourcesAt > builtAt) {
  console.log(
    builtAt ? '[tributary] sources changed: rebuilding the app' : '[tributary] first start: building the app',
  );
  execSync('npx next build', { cwd: root, stdio: 'inherit' });
}
