#!/usr/bin/env node
/**
 * Builds the native matrix-kernel addon (native/, see native/binding.gyp) with the node-gyp that ships
 * inside npm, against this Node's own headers when they are installed (no download).
 *
 *   node scripts/build-native.mjs              `npm run build:native`: fails loudly when the build fails
 *   node scripts/build-native.mjs --optional   the root `postinstall`: never fails `npm install` — without
 *                                              a compiler the platform runs on plain WASM and says so
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const optional = process.argv.includes('--optional');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const addonFile = path.join(nativeDir, 'build', 'Release', 'tributary_blas.node');

/** node-gyp: the one npm points lifecycle scripts at, npm's bundled copy, or one on PATH. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    candidates.push(
      path.join(
        path.dirname(process.env.npm_execpath),
        '..',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js',
      ),
    );
  }
  // npm installed beside this node (Debian, nodesource, the official tarballs).
  const prefix = path.dirname(path.dirname(process.execPath));
  candidates.push(
    path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  );
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not a dependency of this project
  }
  const script = candidates.find(
    (candidate) => candidate && candidate.endsWith('.js') && fs.existsSync(candidate),
  );
  return script ? [process.execPath, script] : ['node-gyp'];
}

/** This Node's headers (node_api.h) when installed with it, so node-gyp needs no network. */
function localNodeDir() {
  const prefix = path.dirname(path.dirname(process.execPath));
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function fail(message) {
  if (optional) {
    console.warn(`[build:native] ${message}`);
    console.warn('[build:native] continuing without the native addon: tensors run on plain WASM (slower).');
    console.warn(
      '[build:native] to build it later: install g++, make, python3 (and libopenblas-dev), then `npm run build:native`.',
    );
    process.exit(0);
  }
  console.error(`[build:native] ${message}`);
  process.exit(1);
}

function main() {
  const [command, ...prefixArgs] = findNodeGyp();
  const nodeDir = localNodeDir();
  const args = [...prefixArgs, 'rebuild', '--release', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])];
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: nativeDir, encoding: 'utf8', timeout: 300_000 });
  if (result.error) return fail(`could not run node-gyp (${result.error.message})`);
  if (result.status !== 0) {
    const output = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    return fail(`node-gyp exited with ${result.status}:\n${output}`);
  }
  if (!fs.existsSync(addonFile)) return fail(`node-gyp succeeded but ${addonFile} is missing`);

  // Load it once here, so that a broken link (say, libopenblas removed since) shows at install time.
  try {
    const module = { exports: {} };
    process.dlopen(module, addonFile);
    const info = module.exports.info();
    const blas = info.openblas
      ? `OpenBLAS (${info.openblasConfig.split(' ').slice(0, 2).join(' ')}, core ${info.openblasCore})`
      : `portable SGEMM only (${info.portableSimd}; install libopenblas-dev and rebuild for OpenBLAS)`;
    console.log(
      `[build:native] built ${path.relative(root, addonFile)} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${blas}`,
    );
  } catch (error) {
    fail(`the addon was built but does not load: ${error instanceof Error ? error.message : String(error)}`);
  }
}

try {
  main();
} catch (error) {
  fail(`unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}
