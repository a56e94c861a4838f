/** `tributary rfm` runs a nested circuit headless and writes samples per node and a JSON summary. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, tributary } from '../support/cli';
import { nestedCircuit, quickInner } from '../support/circuits';

const dir = makeTempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('tributary rfm', () => {
  it('evaluates AND(OR(p1, p2), p3) and reports each node against its exact target', () => {
    const file = path.join(dir, 'circuit.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ circuit: nestedCircuit, inner: quickInner, gridSize: 24, displaySamples: 50 }),
    );
    const out = path.join(dir, 'out');
    const { code, stderr, lastLine } = tributary(
      ['rfm', '--circuit', file, '--out', out, '--seed', '3'],
      {},
      120_000,
    );
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(lastLine) as {
      nodes: { path: string; kind: string; tv: number | null; tvBaseline: number | null }[];
    };
    expect(summary.nodes.map((n) => n.path)).toEqual(['root.0.0', 'root.0.1', 'root.0', 'root.1', 'root']);
    const root = summary.nodes.find((n) => n.path === 'root')!;
    expect(root.kind).toBe('intersection');
    // A loose bound for this small budget (400 steps, width 32); accuracy is tested in test/engines/rfm.test.ts.
    expect(root.tv).toBeLessThan(0.3);
    const samples = fs.readFileSync(path.join(out, 'root.samples.csv'), 'utf8').trim().split('\n');
    expect(samples[0]).toBe('x1,x2');
    expect(samples).toHaveLength(51);
    expect(fs.existsSync(path.join(out, 'summary.json'))).toBe(true);
  });

  it('rejects an invalid circuit with exit code 2 and says what is wrong', () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify({ type: 'operator', operator: 'xor', children: [] }));
    const { code, stderr } = tributary(['rfm', '--circuit', file, '--out', path.join(dir, 'bad')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid circuit/);
  });
});
