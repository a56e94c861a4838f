/**
 * The MatrixMarket screen reader: a slice of the real Papalexi 2021 screen written by scipy (genes ×
 * cells) against Python's dense values, the real Parse LN18 screen (cells × genes, genes CSV with a
 * header) against scipy's sums, gzip and plain alike; guide assignment by UMI threshold on hand-made
 * counts, and on the whole real screen against the pseudobulk table of SOURCES.md; malformed files, each
 * with its message and no file descriptor left open.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assignGuides,
  columnsFromTable,
  namesFromTable,
  readMatrixMarket,
  readMtxScreen,
  readTextTable,
} from '../../server/perturbation/mtx';
import { csrFromCoordinates, toDenseValues } from '../../server/perturbation/sparse';
import { ScreenInputError } from '../../server/perturbation/types';
import {
  PERTURBATION_DATA_DIR,
  matrixMarketText,
  requireAnndataPeer,
  runPeerPythonJson,
} from '../support/anndataPeer';
import { beforeAllWithPeer } from './peerSetup';
import { writePapalexiSlice, type PapalexiSlice } from './papalexiSlice';

let workDir: string;
let slice: PapalexiSlice;

beforeAllWithPeer(() => {
  requireAnndataPeer();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-mtx-test-'));
  slice = writePapalexiSlice(path.join(workDir, 'slice'), 150);
});

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

function write(name: string, contents: string | Uint8Array): string {
  const file = path.join(workDir, name);
  fs.writeFileSync(file, contents);
  return file;
}

function openDescriptors(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

async function expectInputError(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ScreenInputError);
  expect((error as ScreenInputError).message).toMatch(pattern);
}

describe('readMtxScreen on real screens', () => {
  it('reads the Papalexi slice (genes × cells, plain text) exactly, with its cell table', async () => {
    const screen = await readMtxScreen({ matrix: slice.mtx, genes: slice.genes, obs: slice.obs });
    expect(screen.X.format).toBe('csr');
    expect([screen.X.rows, screen.X.cols]).toEqual([150, 299]);
    expect(Array.from(toDenseValues(screen.X))).toEqual(slice.expected.X.flat());
    expect(screen.genes).toEqual(slice.expected.genes);
    expect(screen.obs.cell).toEqual(slice.expected.cells);
    expect(screen.obs.perturbation).toEqual(slice.expected.perturbation);
    expect(screen.obs.top_guide_umis).toEqual(slice.expected.topGuideUmis);
    // A CSV 'True' / 'False' column is text, not a number.
    expect(screen.obs.is_control).toEqual(slice.expected.isControl.map((b) => (b ? 'True' : 'False')));
    const fractions = screen.obs.top_fraction as number[];
    slice.expected.topFraction.forEach((f, i) =>
      Number.isNaN(f) ? expect(fractions[i]).toBeNaN() : expect(fractions[i]).toBe(f),
    );
  });

  it('reads gzip and plain alike, and the transposed file with orientation cells-by-genes', async () => {
    const plain = await readMtxScreen({ matrix: slice.mtx, genes: slice.genes });
    const gz = write('slice.mtx.bin', zlib.gzipSync(fs.readFileSync(slice.mtx)));
    const fromGz = await readMtxScreen({ matrix: gz, genes: slice.genes, orientation: 'genes-by-cells' });
    expect(fromGz.X).toEqual(plain.X);
    const transposed = write('slice_t.mtx', matrixMarketText(slice.expected.X, 'cells-by-genes'));
    const fromTransposed = await readMtxScreen({
      matrix: transposed,
      genes: slice.genes,
      orientation: 'cells-by-genes',
    });
    expect(fromTransposed.X).toEqual(plain.X);
    const fromBytes = await readMtxScreen({
      matrix: new Uint8Array(fs.readFileSync(gz)),
      genes: slice.genes,
    });
    expect(fromBytes.X).toEqual(plain.X);
  });

  it('reads the Parse LN18 screen (cells × genes, genes CSV with a header) as scipy does', async () => {
    const matrix = path.join(PERTURBATION_DATA_DIR, 'sceptredata_parse_LN18_gene_mat.mtx');
    const genesCsv = path.join(PERTURBATION_DATA_DIR, 'sceptredata_parse_LN18_all_genes.csv');
    const screen = await readMtxScreen({ matrix, genes: genesCsv });
    const reference = runPeerPythonJson<{
      shape: number[];
      nnz: number;
      rowSums: number[];
      colSums: number[];
      names: string[];
    }>(
      `
import sys, json, csv, scipy.io, numpy as np
M = scipy.io.mmread(sys.argv[1]).tocsr()
names = [r[1] for r in list(csv.reader(open(sys.argv[2])))[1:]]
print(json.dumps({'shape': list(M.shape), 'nnz': int(M.nnz), 'rowSums': np.asarray(M.sum(1)).ravel().tolist(),
                  'colSums': np.asarray(M.sum(0)).ravel().tolist(), 'names': names}))
`,
      [matrix, genesCsv],
    );
    expect([screen.X.rows, screen.X.cols]).toEqual(reference.shape);
    expect(screen.X.format === 'csr' && screen.X.indptr[screen.X.rows]).toBe(reference.nnz);
    const values = toDenseValues(screen.X);
    const rowSums = Array.from({ length: screen.X.rows }, (_, i) =>
      values.subarray(i * screen.X.cols, (i + 1) * screen.X.cols).reduce((a, b) => a + b, 0),
    );
    expect(rowSums).toEqual(reference.rowSums);
    const colSums = new Array<number>(screen.X.cols).fill(0);
    values.forEach((v, k) => (colSums[k % screen.X.cols] += v));
    expect(colSums).toEqual(reference.colSums);
    expect(screen.genes).toEqual(reference.names);
    expect(screen.notes.join(' ')).toMatch(/first line taken as a header/);
  });

  it('assigns the whole Papalexi screen its top guides as SOURCES.md did (pseudobulk cell counts and means)', async () => {
    const data = (name: string) => path.join(PERTURBATION_DATA_DIR, name);
    const screen = await readMtxScreen({
      matrix: data('papalexi2021_lowmoi_response_matrix.mtx.gz'),
      genes: data('papalexi2021_lowmoi_response_matrix_rows.txt'),
      obs: data('papalexi2021_lowmoi_extra_covariates.csv'),
      guides: {
        counts: data('papalexi2021_lowmoi_grna_matrix.mtx.gz'),
        ids: data('papalexi2021_lowmoi_grna_matrix_rows.txt'),
        targets: data('papalexi2021_lowmoi_grna_target_data_frame.csv'),
        assignment: { strategy: 'highest', minUmi: 1 },
      },
    });
    expect([screen.X.rows, screen.X.cols]).toEqual([20729, 299]);
    const pseudobulk = columnsFromTable(
      await readTextTable(data('papalexi2021_lowmoi_pseudobulk_mean_counts_by_target.csv')),
      'pseudobulk',
    );
    const targets = screen.obs.perturbation as string[];
    const values = toDenseValues(screen.X);
    (pseudobulk.target as string[]).forEach((target, row) => {
      const cells = targets.flatMap((t, i) => (t === target ? [i] : []));
      expect(cells.length, target).toBe((pseudobulk.n_cells as number[])[row]);
      screen.genes.forEach((gene, j) => {
        const mean = cells.reduce((sum, i) => sum + values[i * 299 + j], 0) / cells.length;
        // The table holds 6 significant digits.
        expect(Math.abs(mean - (pseudobulk[gene] as number[])[row])).toBeLessThanOrEqual(
          5e-6 * Math.abs(mean) + 1e-12,
        );
      });
    });
  }, 60_000);
});

describe('guide assignment', () => {
  // 5 cells × 3 guides: g1 → A, g2 → B, g3 → non-targeting.
  const counts = csrFromCoordinates(
    5,
    3,
    Int32Array.from([0, 1, 1, 2, 3, 3, 4, 4]),
    Int32Array.from([0, 0, 1, 2, 0, 1, 0, 2]),
    Float32Array.from([10, 6, 7, 9, 2, 1, 8, 8]),
  );
  const ids = ['g1', 'g2', 'g3'];
  const targets = new Map([
    ['g1', 'A'],
    ['g2', 'B'],
    ['g3', 'non-targeting'],
  ]);

  it('assigns every guide at or above the UMI threshold', () => {
    const result = assignGuides(counts, ids, targets, { minUmi: 5 }, 'guides');
    expect(result.targets).toEqual(['A', 'A+B', 'non-targeting', '', 'A+non-targeting']);
    expect(result.guides).toEqual(['g1', 'g1,g2', 'g3', '', 'g1,g3']);
    expect(result.guideCount).toEqual([1, 2, 1, 0, 2]);
    expect(result.guideUmis).toEqual([10, 13, 9, 3, 16]);
  });

  it('applies the fraction-of-cell threshold, and the highest strategy (ties unassigned)', () => {
    expect(assignGuides(counts, ids, targets, { minUmi: 1, minFraction: 0.5 }, 'guides').targets).toEqual([
      'A',
      'B',
      'non-targeting',
      'A',
      'A+non-targeting',
    ]);
    expect(assignGuides(counts, ids, targets, { strategy: 'highest', minUmi: 5 }, 'guides').targets).toEqual([
      'A',
      'B',
      'non-targeting',
      '',
      '',
    ]);
  });

  it('rejects a guide missing from the target table, and a wrong number of ids', () => {
    expect(() => assignGuides(counts, ids, new Map([['g1', 'A']]), { minUmi: 1 }, 'guides')).toThrow(
      /2 guide\(s\) missing from the guide → target table: g2, g3/,
    );
    expect(() => assignGuides(counts, ['g1'], targets, { minUmi: 1 }, 'guides')).toThrow(
      /1 guide ids for a matrix with 3/,
    );
  });

  it('reads guide counts, ids and table through readMtxScreen (the Papalexi slice)', async () => {
    const screen = await readMtxScreen({
      matrix: slice.mtx,
      genes: slice.genes,
      guides: {
        counts: slice.guideCounts,
        ids: slice.guideIds,
        targets: slice.guideTargets,
        assignment: { strategy: 'highest', minUmi: 1 },
      },
    });
    expect(screen.obs.perturbation).toEqual(slice.expected.perturbation);
    expect(screen.obs.n_guides).toEqual(new Array(150).fill(1));
  });
});

describe('text tables', () => {
  it('takes a 10x features.tsv symbol column, a header by name or by count, and numeric columns', () => {
    const features = [
      ['ENSG1', 'TSPAN6', 'Gene Expression'],
      ['ENSG2', 'DPM1', 'Gene Expression'],
    ];
    expect(namesFromTable(features, 2, {}, 'genes').names).toEqual(['TSPAN6', 'DPM1']);
    const withHeader = [['gene_id', 'gene_name'], ...features.map((r) => r.slice(0, 2))];
    expect(namesFromTable(withHeader, 2, {}, 'genes')).toEqual({
      names: ['TSPAN6', 'DPM1'],
      headerSkipped: true,
    });
    expect(namesFromTable(withHeader, null, { column: 'gene_id' }, 'genes').names).toEqual([
      'ENSG1',
      'ENSG2',
    ]);
    expect(() => namesFromTable(features, 3, {}, 'genes')).toThrow(/2 names for a matrix with 3/);
    expect(
      columnsFromTable(
        [
          ['label', 'n', 'x'],
          ['A', '1', ''],
          ['B', '2', '0.5'],
        ],
        't',
      ),
    ).toEqual({ label: ['A', 'B'], n: [1, 2], x: [Number.NaN, 0.5] });
    expect(() => columnsFromTable([['a', 'b'], ['1']], 't')).toThrow(/line 2 has 1 fields, the header 2/);
  });
});

describe('malformed MatrixMarket input', () => {
  const header = '%%MatrixMarket matrix coordinate integer general\n';
  const cases: [string, string, RegExp][] = [
    ['no banner', '3 2 1\n1 1 5\n', /not a MatrixMarket file/],
    [
      'array format',
      '%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n',
      /only the sparse "coordinate" format/,
    ],
    ['symmetric', '%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 1 1\n', /symmetry "symmetric"/],
    ['complex', '%%MatrixMarket matrix coordinate complex general\n2 2 1\n1 1 1 0\n', /field "complex"/],
    ['empty', '', /the file is empty/],
    ['no size line', header + '% only comments\n', /no size line/],
    ['bad size line', header + '3 two 1\n', /line 2: expected the size line/],
    ['non-numeric value', header + '3 2 2\n1 1 5\n2 1 x7\n', /line 4: value "x7" is not a number/],
    ['non-integer value', header + '3 2 1\n1 1 2.5\n', /value "2.5" is not an integer/],
    ['row out of range', header + '3 2 1\n4 1 5\n', /row index "4" is not in 1…3/],
    ['column zero', header + '3 2 1\n1 0 5\n', /column index "0" is not in 1…2/],
    ['missing value', header + '3 2 1\n1 1\n', /expected 3 values/],
    ['more entries than declared', header + '3 2 1\n1 1 5\n2 2 5\n', /line 4: more entries than the 1/],
    ['fewer entries than declared', header + '3 2 3\n1 1 5\n2 2 5\n', /truncated: 2 of the 3 entries/],
  ];
  it.each(cases)('%s', async (_name, text, pattern) => {
    await expectInputError(readMatrixMarket(write('bad.mtx', text), { cellAxis: 'columns' }), pattern);
  });

  it('sums duplicate coordinates as scipy does, and reads pattern matrices as ones', async () => {
    const { matrix } = await readMatrixMarket(write('dup.mtx', header + '2 2 3\n1 1 5\n1 1 2\n2 2 1\n'), {
      cellAxis: 'rows',
    });
    expect(Array.from(toDenseValues(matrix))).toEqual([7, 0, 0, 1]);
    const pattern = '%%MatrixMarket matrix coordinate pattern general\n2 3 2\n1 3\n2 1\n';
    const { matrix: ones } = await readMatrixMarket(write('pattern.mtx', pattern), { cellAxis: 'columns' });
    expect(Array.from(toDenseValues(ones))).toEqual([0, 1, 0, 0, 1, 0]);
  });

  it('enforces the size limits before allocating', async () => {
    const text = header + '300 200 5\n1 1 1\n';
    await expectInputError(
      readMatrixMarket(write('big.mtx', text), { cellAxis: 'columns', limits: { maxCells: 100 } }),
      /200 cells exceed the limit of 100/,
    );
    await expectInputError(
      readMatrixMarket(write('big.mtx', text), { cellAxis: 'columns', limits: { maxGenes: 100 } }),
      /300 genes exceed the limit of 100/,
    );
    await expectInputError(
      readMatrixMarket(write('big.mtx', text), { cellAxis: 'columns', limits: { maxStoredValues: 4 } }),
      /5 stored entries exceed the limit of 4/,
    );
  });

  it('rejects truncated gzip and binary garbage, leaving no file descriptor open', async () => {
    await settle();
    const before = openDescriptors();
    const gz = zlib.gzipSync(fs.readFileSync(slice.mtx));
    await expectInputError(
      readMatrixMarket(write('cut.mtx.gz', gz.subarray(0, gz.length >> 1)), { cellAxis: 'columns' }),
      /gzip stream is corrupt or truncated/,
    );
    const garbage = Buffer.concat([Buffer.from(header), Buffer.alloc(2 << 20, 0x41)]);
    await expectInputError(
      readMatrixMarket(write('garbage.mtx', garbage), { cellAxis: 'columns' }),
      /a line is longer than 1048576 bytes/,
    );
    await expectInputError(
      readMatrixMarket(write('bad.mtx', header + '3 2 2\n1 1 x\n'), { cellAxis: 'columns' }),
      /not a number/,
    );
    await expectInputError(
      readMatrixMarket(path.join(workDir, 'absent.mtx'), { cellAxis: 'columns' }),
      /cannot open the file/,
    );
    // The CSV path (csv-parse) too: a truncated gzip cell table.
    const table = zlib.gzipSync(fs.readFileSync(slice.obs));
    await expectInputError(
      readTextTable(write('cut.csv.gz', table.subarray(0, table.length >> 1))),
      /gzip stream is corrupt or truncated/,
    );
    await settle();
    expect(openDescriptors()).toBe(before);
  });

  it('rejects a gene list or cell table that does not fit the matrix', async () => {
    const genes = write('genes4.txt', 'A\nB\nC\nD\n');
    await expectInputError(
      readMtxScreen({ matrix: slice.mtx, genes }),
      /4 lines in the gene list match neither axis of the 299 × 150 matrix/,
    );
    await expectInputError(
      readMtxScreen({ matrix: slice.mtx, genes: slice.genes, orientation: 'cells-by-genes' }),
      /299 names for a matrix with 150/,
    );
    const obs = write('obs3.csv', 'label\nA\nB\nC\n');
    await expectInputError(
      readMtxScreen({ matrix: slice.mtx, genes: slice.genes, obs }),
      /3 rows for a matrix with 150 cells/,
    );
    const square = write('square.mtx', header + '2 2 1\n1 1 1\n');
    await expectInputError(readMtxScreen({ matrix: square, genes: write('g2.txt', 'A\nB\n') }), /square/);
  });
});
