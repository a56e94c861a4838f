/**
 * `tributary perturb synth` writes a synthetic screen that the real AnnData reads (labels, shape) and the
 * true matrix as CSV in the orientation ([i][j]: effect of gene i on gene j).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { syntheticScreen } from '../../server/perturbation/synthetic';
import { makeTempDir, tributary } from '../support/cli';

const dir = makeTempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('tributary perturb synth', () => {
  it('writes an .h5ad AnnData reads and the true matrix, transposed to effect-of-row-on-column', () => {
    const out = path.join(dir, 'screen.h5ad');
    const truth = path.join(dir, 'truth.csv');
    const args = ['perturb', 'synth', '--genes', '6', '--graph', 'er', '--reversible', '--seed', '4'];
    const run = tributary([...args, '--cells', '20', '--out', out, '--truth', truth]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.lastLine) as { cells: number; conditions: number; family: string };
    expect(summary).toMatchObject({ family: 'reversible', conditions: 7, cells: 140 });

    let anndata: string;
    try {
      anndata = execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          'import anndata,sys,json; a=anndata.read_h5ad(sys.argv[1]); print(json.dumps({"shape": list(a.shape), "labels": sorted(set(a.obs["perturbation"])), "genes": list(a.var_names)}))',
          out,
        ],
        { encoding: 'utf8' },
      );
    } catch (error) {
      throw new Error('the AnnData peer is missing or failed: run bash ../shared/peers/install-peers.sh', {
        cause: error,
      });
    }
    const read = JSON.parse(anndata) as { shape: number[]; labels: string[]; genes: string[] };
    expect(read.shape).toEqual([140, 6]);
    expect(read.labels).toEqual(['G0', 'G1', 'G2', 'G3', 'G4', 'G5', 'control']);

    const rows = fs
      .readFileSync(truth, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split(','));
    expect(rows[0]).toEqual(read.genes);
    const screen = syntheticScreen({
      genes: 6,
      graph: 'er',
      family: 'reversible',
      seed: 4,
      cellsPerCondition: 20,
    });
    // File [i][j] = effect of gene i on gene j = A[j][i].
    for (let i = 0; i < 6; i++)
      for (let j = 0; j < 6; j++) expect(Number(rows[1 + i][j])).toBeCloseTo(screen.trueMatrix[j][i], 12);
  });

  it('refuses a bad graph and conflicting families with exit code 2', () => {
    const out = path.join(dir, 'x.h5ad');
    expect(tributary(['perturb', 'synth', '--graph', 'tree', '--out', out]).code).toBe(2);
    const both = tributary([
      'perturb',
      'synth',
      '--graph',
      'er',
      '--reversible',
      '--nonlinear',
      '--out',
      out,
    ]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/exclude each other/);
  });
});
