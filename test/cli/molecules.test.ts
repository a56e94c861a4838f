/**
 * `tributary props`, `train-prior` and `design` as a user runs them: props speaks rdkit_oracle.py's
 * format (same keys, same values — agreement itself is tested in test/molecules/properties.test.ts);
 * a prior trains and stores; a design run reads stored priors and writes scored molecules.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, tributary } from '../support/cli';
import { smallDrugLibrary } from '../support/molecules';

const dir = makeTempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const library = smallDrugLibrary;

describe('tributary props', () => {
  it('writes one line per input with the oracle’s keys, invalid inputs marked invalid', () => {
    const file = path.join(dir, 'in.smi');
    fs.writeFileSync(file, ['smiles', 'CCO ethanol', 'C1CC', '# comment', 'c1ccccc1,benzene'].join('\n'));
    const { code, stdout, stderr } = tributary(['props', '--in', file]);
    expect(code, stderr).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    expect(Object.keys(lines[0])).toEqual([
      'input',
      'valid',
      'canonical',
      'qed',
      'sa',
      'logp',
      'tpsa',
      'mw',
      'hba',
      'hbd',
      'rotb',
      'heavy',
      'rings',
    ]);
    expect(lines[0]).toMatchObject({
      input: 'CCO',
      valid: true,
      canonical: 'CCO',
      heavy: 3,
      rings: 0,
      hbd: 1,
    });
    expect(lines[1]).toEqual({ input: 'C1CC', valid: false });
    expect(lines[2]).toMatchObject({ input: 'c1ccccc1', canonical: 'c1ccccc1', rings: 1 });
    expect(stderr).toMatch(/"molecules_per_s"/);
  });
});

describe('tributary train-prior and design', () => {
  it('trains a prior, stores it, and designs from it under a reward', () => {
    const smiles = path.join(dir, 'library.smi');
    fs.writeFileSync(smiles, library.join('\n'));
    const priorDir = path.join(dir, 'prior');
    const trained = tributary(
      [
        'train-prior',
        '--smiles',
        smiles,
        '--out',
        priorDir,
        '--steps',
        '40',
        '--hidden',
        '32',
        '--samples',
        '50',
      ],
      {},
      120_000,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const summary = JSON.parse(trained.lastLine) as { molecules: number; metrics: { validity: number } };
    expect(summary.molecules).toBe(library.length);
    expect(summary.metrics.validity).toBeGreaterThan(0.9);
    for (const file of ['prior.json', 'samples.csv', 'summary.json'])
      expect(fs.existsSync(path.join(priorDir, file))).toBe(true);

    const circuit = path.join(dir, 'design.json');
    fs.writeFileSync(
      circuit,
      JSON.stringify({
        priors: ['prior/prior.json'],
        reward: { kind: 'property', property: 'qed' },
        sampleCount: 64,
        steps: 10,
        samples: 30,
      }),
    );
    const out = path.join(dir, 'design');
    const designed = tributary(['design', '--circuit', circuit, '--out', out, '--seed', '2'], {}, 120_000);
    expect(designed.code, designed.stderr).toBe(0);
    const result = JSON.parse(designed.lastLine) as { reward_calls: number; reward_mean: number };
    expect(result.reward_calls).toBe(64); // one mirror step scores its 64 samples once
    expect(result.reward_mean).toBeGreaterThanOrEqual(0);
    const rows = fs.readFileSync(path.join(out, 'samples.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('smiles,reward');
    expect(rows).toHaveLength(31);
  });

  it('rejects a design with an unknown reward and a missing prior, exit code 2', () => {
    const circuit = path.join(dir, 'bad.json');
    fs.writeFileSync(circuit, JSON.stringify({ priors: ['nowhere.json'], reward: { kind: 'magic' } }));
    const bad = tributary(['design', '--circuit', circuit, '--out', path.join(dir, 'x')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid design/);
    fs.writeFileSync(circuit, JSON.stringify({ priors: ['nowhere.json'] }));
    const missing = tributary(['design', '--circuit', circuit, '--out', path.join(dir, 'x')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read prior/);
  });
});
