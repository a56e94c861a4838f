/**
 * The CSV expression reader: files written by pandas (index column with an empty header, an annotation
 * column) read exactly in both orientations, gzip too; malformed files each with their message.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readCsvScreen } from '../../server/perturbation/csv';
import { ScreenInputError } from '../../server/perturbation/types';
import { requireAnndataPeer, runPeerPython } from '../support/anndataPeer';
import { beforeAllWithPeer } from './peerSetup';

let workDir: string;
const expected = {
  cells: ['c1', 'c2', 'c3'],
  genes: ['G1', 'G2', 'MT-CO1', 'G4'],
  labels: ['control', 'G1', 'G1+G2'],
  values: [
    [0, 1.5, 2, 0],
    [3, 0, 0.25, 7],
    [1e-3, 2, 0, 5],
  ],
};

beforeAllWithPeer(() => {
  requireAnndataPeer();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-csv-test-'));
  runPeerPython(
    `
import sys, json, pandas as pd
e = json.loads(sys.argv[2])
df = pd.DataFrame(e['values'], index=e['cells'], columns=e['genes'])
df.insert(2, 'perturbation', e['labels'])
df.to_csv(sys.argv[1] + '/cells_by_genes.csv')
pd.DataFrame(e['values'], index=e['cells'], columns=e['genes']).T.to_csv(sys.argv[1] + '/genes_by_cells.csv')
`,
    [workDir, JSON.stringify(expected)],
  );
});

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

function write(name: string, contents: string | Uint8Array): string {
  const file = path.join(workDir, name);
  fs.writeFileSync(file, contents);
  return file;
}

async function expectInputError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ScreenInputError);
  expect((error as ScreenInputError).message).toMatch(pattern);
}

describe('readCsvScreen', () => {
  it('reads a pandas cells × genes CSV with an annotation column exactly', async () => {
    const screen = await readCsvScreen(path.join(workDir, 'cells_by_genes.csv'), {
      orientation: 'cells-by-genes',
      obsColumns: ['perturbation'],
    });
    expect(screen.cells).toEqual(expected.cells);
    expect(screen.genes).toEqual(expected.genes);
    expect(screen.obs).toEqual({ perturbation: expected.labels });
    expect(screen.X).toEqual({
      format: 'dense',
      rows: 3,
      cols: 4,
      values: Float32Array.from(expected.values.flat()),
    });
  });

  it('reads the genes × cells transpose (gzip) into the same cells × genes matrix', async () => {
    const gz = write(
      'genes_by_cells.csv.gz',
      zlib.gzipSync(fs.readFileSync(path.join(workDir, 'genes_by_cells.csv'))),
    );
    const screen = await readCsvScreen(gz, { orientation: 'genes-by-cells' });
    expect(screen.cells).toEqual(expected.cells);
    expect(screen.genes).toEqual(expected.genes);
    expect(Array.from((screen.X as { values: Float32Array }).values)).toEqual(
      Array.from(Float32Array.from(expected.values.flat())),
    );
  });

  it('reads a file without an index column, with quoted fields', async () => {
    const file = write('plain.csv', '"A","B, the second"\n1,2\n3,4\n');
    const screen = await readCsvScreen(file, { orientation: 'cells-by-genes', indexColumn: null });
    expect(screen.genes).toEqual(['A', 'B, the second']);
    expect(screen.cells).toEqual(['0', '1']);
  });

  const malformed: [string, string, RegExp][] = [
    [
      'an annotation column not declared',
      ',G1,label\nc1,1,control\n',
      /line 2, column 'label': "control" is not a number \(an annotation column\? list it in obsColumns\)/,
    ],
    ['a non-numeric value', ',G1,G2\nc1,1,2\nc2,NA,2\n', /line 3, column 'G1': "NA" is not a number/],
    ['an empty value', ',G1,G2\nc1,1,\n', /line 2, column 'G2': "" is not a number/],
    ['a ragged row', ',G1,G2\nc1,1,2\nc2,1\n', /line 3 has 2 fields, the header 3/],
    ['no data rows', ',G1,G2\n', /no data rows/],
    ['an empty file', '', /the file is empty/],
  ];
  it.each(malformed)('rejects %s', async (_name, text, pattern) => {
    await expectInputError(readCsvScreen(write('bad.csv', text), { orientation: 'cells-by-genes' }), pattern);
  });

  it('rejects a missing annotation column and files over the limits', async () => {
    const file = path.join(workDir, 'cells_by_genes.csv');
    await expectInputError(
      readCsvScreen(file, { orientation: 'cells-by-genes', obsColumns: ['guide'] }),
      /no column 'guide' \(header: , G1, G2, perturbation/,
    );
    await expectInputError(
      readCsvScreen(file, {
        orientation: 'cells-by-genes',
        obsColumns: ['perturbation'],
        limits: { maxCells: 2 },
      }),
      /more than 2 cells/,
    );
    await expectInputError(
      readCsvScreen(file, {
        orientation: 'cells-by-genes',
        obsColumns: ['perturbation'],
        limits: { maxGenes: 3 },
      }),
      /4 genes exceed the limit of 3/,
    );
  });
});
