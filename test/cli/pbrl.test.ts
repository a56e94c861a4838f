/**
 * `tributary pbrl simulate` prints one JSON line per answered query and a summary; `tributary bench pbrl`
 * prints the benchmark's JSON. The numbers themselves are tested in test/engines/pbrl*.test.ts; here,
 * the command line: formats, reproducibility, --theta, and usage errors (exit code 2).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, tributary } from '../support/cli';

const dir = makeTempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface QueryLine {
  query: number;
  cosine_error: number;
  accuracy: number;
}

function jsonLines(stdout: string): unknown[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

const small = ['--dim', '4', '--K', '3', '--horizon', '3', '--vocab', '4', '--queries', '5'];

describe('tributary pbrl simulate', () => {
  it('prints {query, cosine_error, accuracy} per query, then the summary; the same seed gives the same run', () => {
    const run = () => tributary(['pbrl', 'simulate', ...small, '--design', 'aopt', '--seed', '1']);
    const { code, stdout, stderr } = run();
    expect(code, stderr).toBe(0);
    const lines = jsonLines(stdout);
    expect(lines).toHaveLength(6);
    const perQuery = lines.slice(0, 5) as QueryLine[];
    perQuery.forEach((line, i) => {
      expect(Object.keys(line)).toEqual(['query', 'cosine_error', 'accuracy']);
      expect(line.query).toBe(i + 1);
      expect(line.cosine_error >= 0 && line.cosine_error <= 2).toBe(true);
      expect(line.accuracy >= 0 && line.accuracy <= 1).toBe(true);
    });
    const summary = lines[5] as Record<string, unknown>;
    expect(Object.keys(summary).slice(0, 3)).toEqual(['design', 'queries', 'final_cosine_error']);
    expect(summary).toMatchObject({
      design: 'aopt',
      queries: 5,
      final_cosine_error: perQuery[4].cosine_error,
      final_accuracy: perQuery[4].accuracy,
      dim: 4,
      K: 3,
      theta_source: 'random',
    });
    expect(summary.theta_star).toHaveLength(4);
    expect(jsonLines(run().stdout).slice(0, 5)).toEqual(perQuery);
  });

  it('takes θ* from --theta (its length is the dimension) and selects queries at random on request', () => {
    const file = path.join(dir, 'theta.json');
    fs.writeFileSync(file, JSON.stringify([1, -0.5, 0.25]));
    const { code, stderr, lastLine } = tributary([
      'pbrl',
      'simulate',
      '--theta',
      file,
      '--queries',
      '3',
      '--design',
      'random',
      '--horizon',
      '2',
    ]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(lastLine)).toMatchObject({
      design: 'random',
      queries: 3,
      dim: 3,
      theta_source: 'given',
      theta_star: [1, -0.5, 0.25],
    });
  });

  it('rejects bad flags with exit code 2 and says what is wrong', () => {
    const wrongLength = path.join(dir, 'short.json');
    fs.writeFileSync(wrongLength, JSON.stringify([1, 2]));
    const notNumbers = path.join(dir, 'strings.json');
    fs.writeFileSync(notNumbers, JSON.stringify(['a', 'b']));
    const cases: [string[], RegExp][] = [
      [['--design', 'best'], /--design must be one of aopt, dopt, random/],
      [['--dim', '0'], /--dim must be a positive integer/],
      [['--K', '1'], /--K must be an integer ≥ 2/],
      [['--queries', '2.5'], /--queries must be a positive integer/],
      [['--dim', '4', '--theta', wrongLength], /holds 2 numbers but --dim is 4/],
      [['--theta', notNumbers], /JSON array of finite numbers/],
      [['--theta', path.join(dir, 'missing.json')], /cannot read/],
    ];
    for (const [flags, message] of cases) {
      const { code, stderr } = tributary(['pbrl', 'simulate', ...flags]);
      expect(code, flags.join(' ')).toBe(2);
      expect(stderr).toMatch(message);
    }
    expect(tributary(['pbrl', 'design']).code).toBe(2);
  });
});

describe('tributary bench pbrl', () => {
  it('reports queries to match random selection and seconds per designed query as its last JSON line', () => {
    const { code, stderr, lastLine } = tributary(
      [
        'bench',
        'pbrl',
        '--seeds',
        '2',
        '--random-queries',
        '8',
        '--timing-dims',
        '6,10',
        '--timing-queries',
        '1',
      ],
      {},
      120_000,
    );
    expect(code, stderr).toBe(0);
    const summary = JSON.parse(lastLine) as Record<string, unknown>;
    expect(summary).toMatchObject({ bench: 'pbrl', random_queries: 8, seeds: 2 });
    for (const key of ['aopt_queries_to_match', 'dopt_queries_to_match']) {
      const value = summary[key];
      expect(
        value === null || (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 8),
      ).toBe(true);
    }
    const seconds = summary.seconds_per_query as Record<string, number>;
    expect(Object.keys(seconds)).toEqual(['6', '10']);
    for (const value of Object.values(seconds)) expect(value).toBeGreaterThan(0);
  });
});
