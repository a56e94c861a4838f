/**
 * Build-time probe for a system OpenBLAS (Debian: libopenblas-dev), called by binding.gyp:
 *   node detect-openblas.mjs found      → "1" when cblas.h and libopenblas are both present, else "0"
 *   node detect-openblas.mjs cflags     → include flags (pkg-config's, or the directory holding cblas.h)
 *   node detect-openblas.mjs libs       → link flags
 * pkg-config is asked first; without it the usual Debian/Ubuntu/Fedora locations are tried. The probe
 * never fails: no OpenBLAS means the addon is built with its portable SGEMM only.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function pkgConfig(args) {
  try {
    return execFileSync('pkg-config', [...args, 'openblas'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

function firstExisting(candidates) {
  return candidates.find((candidate) => fs.existsSync(candidate));
}

function probe() {
  const cflags = pkgConfig(['--cflags']);
  const libs = pkgConfig(['--libs']);
  if (cflags !== undefined && libs !== undefined) {
    const includeDirs = cflags
      .split(/\s+/)
      .filter((f) => f.startsWith('-I'))
      .map((f) => f.slice(2));
    const header = firstExisting(
      [...includeDirs, '/usr/include', '/usr/local/include'].map((d) => path.join(d, 'cblas.h')),
    );
    if (header) return { found: true, cflags: cflags || `-I${path.dirname(header)}`, libs };
  }
  const multiarch = ['x86_64-linux-gnu', 'aarch64-linux-gnu'];
  const header = firstExisting([
    ...multiarch.map((m) => `/usr/include/${m}/cblas.h`),
    '/usr/include/openblas/cblas.h',
    '/usr/include/cblas.h',
    '/usr/local/include/cblas.h',
  ]);
  const libraryDir = firstExisting(
    [...multiarch.map((m) => `/usr/lib/${m}`), '/usr/lib64', '/usr/lib', '/usr/local/lib'].filter((dir) =>
      fs.existsSync(path.join(dir, 'libopenblas.so')),
    ),
  );
  if (header && libraryDir) {
    return { found: true, cflags: `-I${path.dirname(header)}`, libs: `-L${libraryDir} -lopenblas` };
  }
  return { found: false, cflags: '', libs: '' };
}

const result = probe();
const what = process.argv[2];
if (what === 'found') console.log(result.found ? '1' : '0');
else if (what === 'cflags') console.log(result.cflags);
else if (what === 'libs') console.log(result.libs);
else console.log(JSON.stringify(result));
