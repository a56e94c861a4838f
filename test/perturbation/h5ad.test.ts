/**
 * The .h5ad reader on files written by the real AnnData library (../shared/peers/write_h5ad.py) from a
 * slice of the real Papalexi 2021 screen — X as CSR, CSC and dense, categorical obs columns — compared
 * value for value with what Python wrote; the older layouts (h5sparse_format, __categories) written with
 * h5py; malformed files; and the writer, whose files the real AnnData must read back exactly.
 *
 * Needs the AnnData peer (python3-anndata under /usr/bin/python3, ../shared/peers/install-peers.sh):
 * without it these tests fail with that instruction, they do not skip.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readH5ad, writeH5ad } from '../../server/perturbation/h5ad';
import { readMtxScreen } from '../../server/perturbation/mtx';
import { toDenseValues } from '../../server/perturbation/sparse';
import { ScreenInputError, type ScreenData } from '../../server/perturbation/types';
import {
  readH5adWithAnndata,
  requireAnndataPeer,
  runPeerPython,
  writeH5adWithAnndata,
} from '../support/anndataPeer';
import { beforeAllWithPeer } from './peerSetup';
import { writePapalexiSlice, type PapalexiSlice } from './papalexiSlice';

const CELLS = 240;
let workDir: string;
let slice: PapalexiSlice;
const files: Record<'csr' | 'csc' | 'dense', string> = { csr: '', csc: '', dense: '' };

beforeAllWithPeer(() => {
  requireAnndataPeer();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-h5ad-test-'));
  slice = writePapalexiSlice(path.join(workDir, 'slice'), CELLS);
  for (const sparse of ['csr', 'csc', 'dense'] as const) {
    files[sparse] = path.join(workDir, `papalexi_${sparse}.h5ad`);
    writeH5adWithAnndata({
      mtx: slice.mtx,
      genes: slice.genes,
      obs: slice.obs,
      out: files[sparse],
      sparse,
      obsIndex: 'cell',
      categorical: ['perturbation', 'bio_rep'],
    });
  }
});

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

/** Every value of X against Python's dense matrix, exactly. */
function expectMatrixEquals(screen: ScreenData, expected: number[][]) {
  expect([screen.X.rows, screen.X.cols]).toEqual([expected.length, expected[0].length]);
  const values = toDenseValues(screen.X);
  const flat = expected.flat();
  let mismatches = 0;
  for (let k = 0; k < flat.length; k++) if (values[k] !== flat[k]) mismatches++;
  expect(mismatches).toBe(0);
}

function tempEntries(prefix: string): string[] {
  return fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith(prefix));
}

/** A copy of `source` edited in place by an h5py snippet (`f` is the open file). */
function editedCopy(source: string, name: string, edit: string): string {
  const target = path.join(workDir, name);
  fs.copyFileSync(source, target);
  runPeerPython(`import sys, h5py, numpy as np\nwith h5py.File(sys.argv[1], 'r+') as f:\n${edit}`, [target]);
  return target;
}

async function expectInputError(promise: Promise<unknown>, pattern: RegExp): Promise<ScreenInputError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ScreenInputError);
  expect((error as ScreenInputError).message).toMatch(pattern);
  return error as ScreenInputError;
}

describe('readH5ad on files written by AnnData', () => {
  it.each(['csr', 'csc', 'dense'] as const)(
    'reads X stored as %s exactly, as cells × genes',
    async (sparse) => {
      const screen = await readH5ad(files[sparse]);
      expect(screen.X.format).toBe(sparse === 'dense' ? 'dense' : 'csr');
      expectMatrixEquals(screen, slice.expected.X);
      expect(screen.genes).toEqual(slice.expected.genes);
      expect(screen.cells).toEqual(slice.expected.cells);
      if (sparse === 'csc') expect(screen.notes.join(' ')).toMatch(/CSC/);
    },
  );

  it('decodes categorical, string, integer, float (with NaN) and boolean obs columns', async () => {
    const screen = await readH5ad(files.csr);
    // write_h5ad.py stored these two as pandas categoricals (categories + codes).
    expect(
      runPeerPython(
        `import h5py,sys\nf=h5py.File(sys.argv[1]);print(f['obs/perturbation'].attrs['encoding-type'])`,
        [files.csr],
      ).trim(),
    ).toBe('categorical');
    expect(screen.obs.perturbation).toEqual(slice.expected.perturbation);
    expect(screen.obs.bio_rep).toEqual(slice.expected.bioRep);
    expect(screen.obs.top_guide_umis).toEqual(slice.expected.topGuideUmis);
    const fractions = screen.obs.top_fraction as number[];
    // What AnnData stored is what pandas.read_csv parsed (write_h5ad.py), to the last bit.
    slice.expected.topFractionPandas.forEach((value, i) =>
      Number.isNaN(value) ? expect(fractions[i]).toBeNaN() : expect(fractions[i]).toBe(value),
    );
    expect(screen.obs.is_control).toEqual(slice.expected.isControl.map(Number));
    expect(Object.keys(screen.obs)).toEqual([
      'bio_rep',
      'perturbation',
      'top_guide_umis',
      'top_fraction',
      'is_control',
    ]);
  });

  it('reads only the obs columns asked for, and names a missing one', async () => {
    const screen = await readH5ad(files.dense, { obsColumns: ['perturbation'] });
    expect(Object.keys(screen.obs)).toEqual(['perturbation']);
    await expectInputError(
      readH5ad(files.dense, { obsColumns: ['guide'] }),
      /obs has no column 'guide'.*perturbation/,
    );
  });

  it('reads the same screen from bytes, leaving no temporary file behind', async () => {
    const before = tempEntries('tributary-h5ad-').length;
    const fromBytes = await readH5ad(new Uint8Array(fs.readFileSync(files.csc)), {
      sourceName: 'upload.h5ad',
    });
    expectMatrixEquals(fromBytes, slice.expected.X);
    const truncated = fs.readFileSync(files.csc).subarray(0, 5000);
    await expectInputError(readH5ad(truncated, { sourceName: 'upload.h5ad' }), /^upload\.h5ad: truncated/);
    expect(tempEntries('tributary-h5ad-').length).toBe(before);
  });

  it('agrees with the MatrixMarket reader on the same cells', async () => {
    const fromMtx = await readMtxScreen({ matrix: slice.mtx, genes: slice.genes });
    const fromH5ad = await readH5ad(files.csr);
    expect(Array.from(toDenseValues(fromH5ad.X))).toEqual(Array.from(toDenseValues(fromMtx.X)));
  });

  it('reads the same values in small blocks (the hyperslab loop over data, indices and dense rows)', async () => {
    for (const sparse of ['csr', 'csc', 'dense'] as const) {
      const screen = await readH5ad(files[sparse], { readChunkElements: 1000 });
      expectMatrixEquals(screen, slice.expected.X);
    }
  });

  it('reads a scipy CSR with unsorted indices and duplicate entries (valid in scipy) as scipy sums it', async () => {
    const file = path.join(workDir, 'unsorted.h5ad');
    runPeerPython(
      `
import sys, numpy as np, pandas as pd, scipy.sparse as sp, anndata as ad
X = sp.csr_matrix((np.array([2, 1, 5, 1, 3, 3], dtype=np.float32), np.array([2, 0, 3, 1, 0, 1]), np.array([0, 2, 2, 6])), shape=(3, 4))
assert not X.has_canonical_format
ad.AnnData(X=X, obs=pd.DataFrame(index=['a', 'b', 'c']), var=pd.DataFrame(index=['g0', 'g1', 'g2', 'g3'])).write_h5ad(sys.argv[1])
`,
      [file],
    );
    const screen = await readH5ad(file);
    expect(Array.from(toDenseValues(screen.X))).toEqual([1, 0, 2, 0, 0, 0, 0, 0, 3, 4, 0, 5]);
  });
});

describe('readH5ad on older AnnData layouts (written with h5py)', () => {
  it('reads h5sparse_format CSC, __categories categoricals, fixed-length strings, no column-order', async () => {
    const file = path.join(workDir, 'legacy.h5ad');
    runPeerPython(
      `
import sys, h5py, numpy as np, scipy.sparse as sp
X = sp.csc_matrix(np.array([[1, 0, 2], [0, 0, 3], [4, 5, 0], [0, 0, 0]], dtype=np.float64))
with h5py.File(sys.argv[1], 'w') as f:
    g = f.create_group('X'); g.attrs['h5sparse_format'] = 'csc'; g.attrs['h5sparse_shape'] = X.shape
    g['data'] = X.data; g['indices'] = X.indices.astype(np.int64); g['indptr'] = X.indptr.astype(np.int64)
    obs = f.create_group('obs'); obs.attrs['_index'] = 'index'
    obs['index'] = np.array([b'c1', b'c2', b'c3', b'c4'], dtype='S2')
    cats = obs.create_group('__categories')
    cats['guide'] = np.array(['A', 'B', 'non-targeting'], dtype=h5py.string_dtype())
    obs['guide'] = np.array([0, 1, 2, -1], dtype=np.int8); obs['guide'].attrs['categories'] = cats['guide'].ref
    obs['n'] = np.array([1, 2, 3, 4], dtype=np.int64)
    var = f.create_group('var'); var.attrs['_index'] = 'index'
    var['index'] = np.array(['g1', 'g2', 'g3'], dtype=h5py.string_dtype())
`,
      [file],
    );
    const screen = await readH5ad(file);
    expect(Array.from(toDenseValues(screen.X))).toEqual([1, 0, 2, 0, 0, 3, 4, 5, 0, 0, 0, 0]);
    expect(screen.cells).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(screen.genes).toEqual(['g1', 'g2', 'g3']);
    expect(screen.obs.guide).toEqual(['A', 'B', 'non-targeting', '']);
    expect(screen.obs.n).toEqual([1, 2, 3, 4]);
  });

  it('reads the nullable columns of newer AnnData and numeric categoricals (written with h5py)', async () => {
    const file = editedCopy(
      files.dense,
      'nullable.h5ad',
      [
        "    def enc(o, t): o.attrs['encoding-type'] = t; o.attrs['encoding-version'] = '0.1.0'",
        "    n = f['obs'].create_group('dose'); enc(n, 'nullable-integer')",
        '    n["values"] = np.arange(240, dtype=np.int32); n["mask"] = np.arange(240) % 5 == 0',
        "    b = f['obs'].create_group('passed'); enc(b, 'nullable-boolean')",
        '    b["values"] = np.arange(240) % 2 == 0; b["mask"] = np.arange(240) == 1',
        "    t = f['obs'].create_group('note'); enc(t, 'nullable-string-array')",
        "    t['values'] = np.array(['n%d' % i for i in range(240)], dtype=h5py.string_dtype()); t['mask'] = np.arange(240) == 2",
        "    c = f['obs'].create_group('moi'); enc(c, 'categorical'); c.attrs['ordered'] = False",
        "    c['categories'] = np.array([1, 3]); c['codes'] = (np.arange(240) % 3 - 1).astype(np.int8)",
      ].join('\n'),
    );
    const screen = await readH5ad(file, { obsColumns: ['dose', 'passed', 'note', 'moi'] });
    const dose = screen.obs.dose as number[];
    expect(dose.slice(0, 6)).toEqual([Number.NaN, 1, 2, 3, 4, Number.NaN]);
    expect((screen.obs.passed as number[]).slice(0, 4)).toEqual([1, Number.NaN, 1, 0]);
    expect((screen.obs.note as string[]).slice(0, 4)).toEqual(['n0', 'n1', '', 'n3']);
    // Code −1 is missing: NaN for numeric categories.
    expect((screen.obs.moi as number[]).slice(0, 4)).toEqual([Number.NaN, 1, 3, Number.NaN]);
  });

  it('makes duplicate gene names unique the way AnnData does, and says so', async () => {
    const file = editedCopy(
      files.dense,
      'duplicates.h5ad',
      // write_h5ad.py names the var index 'gene_symbols'; the _index attribute says so.
      `    key = 'var/' + f['var'].attrs['_index']\n    names = [s.decode() for s in f[key][:]]\n    names[1] = names[0]; names[2] = names[0]\n    del f[key]\n    f[key] = np.array(names, dtype=h5py.string_dtype())`,
    );
    const screen = await readH5ad(file);
    const first = slice.expected.genes[0];
    expect(screen.genes.slice(0, 3)).toEqual([first, `${first}-1`, `${first}-2`]);
    expect(screen.notes.join(' ')).toMatch(/made unique/);
  });
});

describe('readH5ad rejects malformed files with a clear message', () => {
  it('a file that is not HDF5', async () => {
    const file = path.join(workDir, 'not.h5ad');
    fs.writeFileSync(file, 'cell,gene\n1,2\n');
    await expectInputError(readH5ad(file), /not an HDF5 file/);
  });

  it('a truncated file', async () => {
    const file = path.join(workDir, 'truncated.h5ad');
    const bytes = fs.readFileSync(files.csr);
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await expectInputError(
      readH5ad(file),
      /truncated: the file has \d+ bytes but its HDF5 superblock says \d+/,
    );
  });

  it('a missing file', async () => {
    await expectInputError(readH5ad(path.join(workDir, 'absent.h5ad')), /cannot open the file/);
  });

  it('indptr of the wrong length', async () => {
    const file = editedCopy(
      files.csr,
      'indptr.h5ad',
      `    p = f['X/indptr'][:]\n    del f['X/indptr']\n    f['X/indptr'] = p[:-1]`,
    );
    await expectInputError(readH5ad(file), /X\/indptr has 240 entries; a 240 × 299 csr matrix needs 241/);
  });

  it('a column index outside the matrix', async () => {
    const file = editedCopy(
      files.csr,
      'indices.h5ad',
      `    i = f['X/indices'][:]\n    i[5] = 4000\n    f['X/indices'][...] = i`,
    );
    await expectInputError(readH5ad(file), /X\/indices\[5\] = 4000 is outside 0…298/);
  });

  it('a categorical code outside its categories', async () => {
    const file = editedCopy(
      files.csr,
      'codes.h5ad',
      `    c = f['obs/perturbation/codes'][:]\n    c[3] = 100\n    f['obs/perturbation/codes'][...] = c`,
    );
    await expectInputError(
      readH5ad(file),
      /obs\/perturbation: code 100 at row 3 is outside the \d+ categories/,
    );
  });

  it('an obs column shorter than the index', async () => {
    const file = editedCopy(
      files.csr,
      'short.h5ad',
      `    v = f['obs/top_guide_umis'][:]\n    del f['obs/top_guide_umis']\n    f['obs/top_guide_umis'] = v[:-2]`,
    );
    await expectInputError(
      readH5ad(file),
      /obs column 'top_guide_umis' has 238 values but the index has 240/,
    );
  });

  it('X whose shape disagrees with var', async () => {
    const file = editedCopy(
      files.dense,
      'shape.h5ad',
      `    key = 'var/' + f['var'].attrs['_index']\n    names = f[key][:-1]\n    del f[key]\n    f[key] = names`,
    );
    await expectInputError(readH5ad(file), /X is 240 × 299 but obs has 240 cells and var 298 genes/);
  });

  it('no X, an unknown sparse encoding, an absent layer, obs as a compound table', async () => {
    await expectInputError(readH5ad(editedCopy(files.csr, 'noX.h5ad', `    del f['X']`)), /no X in the file/);
    await expectInputError(
      readH5ad(editedCopy(files.csr, 'coo.h5ad', `    f['X'].attrs['encoding-type'] = 'coo_matrix'`)),
      /encoding-type 'coo_matrix'; expected csr_matrix or csc_matrix/,
    );
    await expectInputError(readH5ad(files.csr, { layer: 'counts' }), /no layers\/counts in the file/);
    await expectInputError(
      readH5ad(
        editedCopy(
          files.csr,
          'compound.h5ad',
          `    del f['obs']\n    f['obs'] = np.zeros(240, dtype=[('a', 'i4'), ('b', 'f8')])`,
        ),
      ),
      /compound table \(AnnData < 0\.7\)/,
    );
  });

  it('files over the size limits', async () => {
    await expectInputError(
      readH5ad(files.csr, { limits: { maxCells: 100 } }),
      /240 cells exceed the limit of 100/,
    );
    await expectInputError(
      readH5ad(files.csr, { limits: { maxGenes: 50 } }),
      /299 genes exceed the limit of 50/,
    );
    await expectInputError(
      readH5ad(files.csr, { limits: { maxStoredValues: 1000 } }),
      /over the limit of 1000/,
    );
    await expectInputError(
      readH5ad(files.dense, { limits: { maxStoredValues: 1000 } }),
      /over the limit of 1000/,
    );
  });
});

describe('writeH5ad', () => {
  async function sliceScreen(): Promise<ScreenData> {
    const screen = await readMtxScreen({ matrix: slice.mtx, genes: slice.genes, obs: slice.obs });
    const { cell, ...columns } = screen.obs;
    return { ...screen, cells: cell as string[], obs: columns };
  }

  it.each(['csr', 'dense'] as const)(
    'writes X as %s that the real AnnData reads back exactly',
    async (xFormat) => {
      const screen = await sliceScreen();
      const trueA = { shape: [2, 3], values: new Float64Array([1.5, -2, 0, 3.25, 1e-7, -4]) };
      const file = path.join(workDir, `ours_${xFormat}.h5ad`);
      await writeH5ad(file, { ...screen, uns: { true_A: trueA, graph: 'er', seed: 3 } }, { xFormat });

      const seen = readH5adWithAnndata(file);
      expect(seen.xType).toBe(xFormat === 'csr' ? 'csr_matrix' : 'ndarray');
      expect(seen.shape).toEqual([CELLS, 299]);
      expect(seen.X).toEqual(slice.expected.X);
      expect(seen.obsNames).toEqual(slice.expected.cells);
      expect(seen.varNames).toEqual(slice.expected.genes);
      expect(seen.obs.perturbation.values).toEqual(slice.expected.perturbation);
      expect(seen.obs.top_guide_umis).toEqual({ dtype: 'int64', values: slice.expected.topGuideUmis });
      expect(seen.obs.top_fraction.dtype).toBe('float64');
      expect(seen.obs.top_fraction.values).toEqual(
        slice.expected.topFraction.map((f) => (Number.isNaN(f) ? null : f)),
      );
      expect(seen.unsKeys).toEqual(['graph', 'seed', 'true_A']);

      const back = await readH5ad(file);
      expectMatrixEquals(back, slice.expected.X);
      expect(back.obs.perturbation).toEqual(slice.expected.perturbation);
      expect(back.uns).toEqual({ true_A: { shape: [2, 3], values: trueA.values }, graph: 'er', seed: 3 });
    },
  );

  it.each(['csr', 'dense'] as const)(
    'writes a real-valued dense screen (a synthetic screen) as %s, float32 values exact in AnnData',
    async (xFormat) => {
      const values = Float32Array.from([0.1, -2.5, 0, 3.14159, 1e-8, -3e5, 7, 0, -1.25, 2 / 3, 0, 100.5]);
      const file = path.join(workDir, `synthetic_${xFormat}.h5ad`);
      await writeH5ad(
        file,
        {
          X: { format: 'dense', rows: 4, cols: 3, values },
          cells: ['s0', 's1', 's2', 's3'],
          genes: ['G0', 'G1', 'G2'],
          obs: { perturbation: ['control', 'G0', 'G1', 'G0+G1'] },
          var: { true_mean: [0.5, -1, 2] },
        },
        { xFormat },
      );
      const seen = readH5adWithAnndata(file);
      expect(seen.xType).toBe(xFormat === 'csr' ? 'csr_matrix' : 'ndarray');
      expect(seen.X.flat()).toEqual(Array.from(values));
      expect(seen.obs.perturbation.values).toEqual(['control', 'G0', 'G1', 'G0+G1']);
      const back = await readH5ad(file);
      expect(Array.from(toDenseValues(back.X))).toEqual(Array.from(values));
      expect(back.var).toEqual({ true_mean: [0.5, -1, 2] });
    },
  );

  it('leaves the target untouched and no temporary file when a write fails', async () => {
    const screen = await sliceScreen();
    const dir = fs.mkdtempSync(path.join(workDir, 'atomic-'));
    const file = path.join(dir, 'screen.h5ad');
    fs.writeFileSync(file, 'previous contents');
    // Fails inside the HDF5 write (after the temporary file exists): a uns array whose shape does not fit.
    const bad = { ...screen, uns: { broken: { shape: [5, 5], values: new Float64Array(3) } } };
    await expect(writeH5ad(file, bad)).rejects.toThrow(/uns 'broken' has 3 values for shape \[5, 5\]/);
    expect(fs.readFileSync(file, 'utf8')).toBe('previous contents');
    expect(fs.readdirSync(dir)).toEqual(['screen.h5ad']);
    // Rejected before anything is written: obs columns that do not match the cells.
    await expect(writeH5ad(path.join(dir, 'other.h5ad'), { ...screen, obs: { x: [1, 2] } })).rejects.toThrow(
      /obs column 'x' has 2 values for 240 rows/,
    );
    expect(fs.readdirSync(dir)).toEqual(['screen.h5ad']);
  });
});
