/** The `tributary` command line, run as a user would: `node bin/tributary.mjs …` in a child process. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(root, 'bin', 'tributary.mjs');
const tmpDirs: string[] = [];

function tributary(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  const lines = result.stdout.trim().split('\n');
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, lastLine: lines.at(-1) ?? '' };
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-cli-'));
  tmpDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('tributary CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const { code, stdout, lastLine } = tributary(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/flow2d/);
    expect(JSON.parse(lastLine)).toMatchObject({ command: 'help' });
    expect(tributary([]).code).toBe(0);
  });

  it('info prints one JSON line with the tensor backend', () => {
    const dataDir = tempDir();
    const { code, lastLine } = tributary(['info'], {
      TRIBUTARY_DATA_DIR: dataDir,
      TRIBUTARY_TENSOR_BACKEND: 'auto',
    });
    expect(code).toBe(0);
    const info = JSON.parse(lastLine) as Record<string, unknown>;
    expect(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).toContain(info.tensorBackend);
    expect(info).toMatchObject({ command: 'info', version: expect.any(String) as string, dataDir });
    expect(['postgresql', 'pglite']).toContain(info.databaseMode);
  });

  it('flow2d trains and writes samples.csv, loss.csv, density.json, weights.json and summary.json', () => {
    const out = path.join(tempDir(), 'run');
    const args = ['flow2d', '--density', 'moons', '--steps', '60', '--out', out];
    const { code, stderr, lastLine } = tributary([...args, '--sample-count', '50', '--grid-size', '12']);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/step 60\/60/);

    const summary = JSON.parse(lastLine) as Record<string, unknown>;
    expect(summary).toMatchObject({ command: 'flow2d', backend: expect.any(String) as string });
    expect(Number.isFinite(summary.finalLoss)).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'))).toEqual(summary);

    const samples = fs.readFileSync(path.join(out, 'samples.csv'), 'utf8').trim().split('\n');
    expect(samples[0]).toBe('x,y');
    expect(samples).toHaveLength(51);
    expect(samples.slice(1).every((line) => line.split(',').map(Number).every(Number.isFinite))).toBe(true);
    const loss = fs.readFileSync(path.join(out, 'loss.csv'), 'utf8').trim().split('\n');
    expect(loss[0]).toBe('step,loss');
    expect(loss).toHaveLength(61);
    const density = JSON.parse(fs.readFileSync(path.join(out, 'density.json'), 'utf8')) as { z: number[][] };
    expect(density.z).toHaveLength(12);
    expect(fs.existsSync(path.join(out, 'weights.json'))).toBe(true);
  });

  it('flow2d rejects an unknown density with exit code 2 and says why', () => {
    const { code, stderr } = tributary(['flow2d', '--density', 'nope', '--out', tempDir()]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/density/);
  });

  it('flow2d rejects a non-numeric option and an unknown option', () => {
    const notNumber = tributary(['flow2d', '--steps', 'many', '--out', tempDir()]);
    expect(notNumber.code).toBe(2);
    expect(notNumber.stderr).toMatch(/--steps/);
    const unknown = tributary(['flow2d', '--stepz', '5']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/stepz/);
  });

  it('info names the matrix kernels, and TRIBUTARY_NATIVE_KERNELS=off gives plain WASM', () => {
    const dataDir = tempDir();
    const env = { TRIBUTARY_DATA_DIR: dataDir, TRIBUTARY_TENSOR_BACKEND: 'wasm' };
    const native = JSON.parse(tributary(['info'], env).lastLine) as Record<string, unknown>;
    expect(['openblas', 'portable', 'wasm']).toContain(native.tensorKernels);
    expect(native.backendDetail).toMatch(/matmul: /);
    const { code, lastLine } = tributary(['info'], { ...env, TRIBUTARY_NATIVE_KERNELS: 'off' });
    expect(code).toBe(0);
    expect(JSON.parse(lastLine)).toMatchObject({ tensorKernels: 'wasm', tensorBackend: 'wasm' });
    const bad = tributary(['info'], { ...env, TRIBUTARY_BLAS_THREADS: 'many' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/TRIBUTARY_BLAS_THREADS/);
  });

  it('bench matmul and bench flow-train print one JSON line of figures', () => {
    const matmul = tributary(['bench', 'matmul', '--seconds', '0.01', '--quick', '--no-torch']);
    expect(matmul.code, matmul.stderr).toBe(0);
    const figures = JSON.parse(matmul.lastLine) as {
      bench: string;
      shapes: { ours: number }[];
      torch: unknown;
      torchReason: string;
    };
    expect(figures.shapes).toHaveLength(5);
    expect(figures.shapes.every((shape) => shape.ours > 0)).toBe(true);
    expect(figures.bench).toBe('matmul');
    expect(figures.torch).toBeNull();
    expect(figures.torchReason).toMatch(/no-torch/);

    const flow = tributary(['bench', 'flow-train', '--dims', '2', '--seconds', '0.2', '--no-torch']);
    expect(flow.code, flow.stderr).toBe(0);
    const training = JSON.parse(flow.lastLine) as {
      results: { dim: number; ours_steps_per_s: number; torch_steps_per_s: unknown; backend: string }[];
    };
    expect(training.results).toHaveLength(1);
    expect(training.results[0].dim).toBe(2);
    expect(training.results[0].ours_steps_per_s).toBeGreaterThan(0);
    expect(training.results[0].torch_steps_per_s).toBeNull();
    expect(training.results[0].backend).toMatch(/^(wasm|cpu|tensorflow)/);
    expect(training).toMatchObject({
      bench: 'flow-train',
      model: { hidden: 256, layers: 3, batchSize: 1024 },
    });

    const unknown = tributary(['bench', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown benchmark "frobnicate"/);
  });

  it('an unknown command exits non-zero with a message on stderr', () => {
    const { code, stderr } = tributary(['frobnicate']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/unknown command "frobnicate"/);
  });
});
