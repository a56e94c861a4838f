/**
 * A small slice of the real Papalexi 2021 screen (../shared/data/perturbation, see SOURCES.md) written
 * by Python (scipy / pandas), so the readers are checked against files and values they did not produce:
 * the first `cells` cells of the 299-gene count matrix as plain MatrixMarket (genes × cells), the gene
 * list, a cell table (barcode, replicate, the target of the highest-count guide, a few typed columns), the
 * matching slice of the guide-count matrix, and the expected dense values as JSON.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PERTURBATION_DATA_DIR, runPeerPython } from '../support/anndataPeer';

export interface PapalexiSlice {
  dir: string;
  mtx: string;
  genes: string;
  obs: string;
  guideCounts: string;
  guideIds: string;
  guideTargets: string;
  expected: {
    /** cells × genes integer counts. */
    X: number[][];
    genes: string[];
    cells: string[];
    perturbation: string[];
    bioRep: string[];
    topGuideUmis: number[];
    /** top guide UMIs / all guide UMIs as the CSV text says (correctly rounded); NaN for every 7th cell. */
    topFraction: number[];
    /** The same as pandas.read_csv parses it (its fast parser can differ in the last bit). */
    topFractionPandas: number[];
    isControl: boolean[];
  };
}

export function writePapalexiSlice(dir: string, cells: number): PapalexiSlice {
  fs.mkdirSync(dir, { recursive: true });
  runPeerPython(
    `
import sys, gzip, json, csv, shutil
import numpy as np, scipy.io, pandas as pd
data, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
X = scipy.io.mmread(gzip.open(f'{data}/papalexi2021_lowmoi_response_matrix.mtx.gz')).tocsc()[:, :n]
G = scipy.io.mmread(gzip.open(f'{data}/papalexi2021_lowmoi_grna_matrix.mtx.gz')).tocsc()[:, :n]
scipy.io.mmwrite(f'{out}/slice.mtx', X.astype(np.int64), field='integer')
scipy.io.mmwrite(f'{out}/guides.mtx', G.astype(np.int64), field='integer')
shutil.copy(f'{data}/papalexi2021_lowmoi_response_matrix_rows.txt', f'{out}/genes.txt')
shutil.copy(f'{data}/papalexi2021_lowmoi_grna_matrix_rows.txt', f'{out}/guide_ids.txt')
shutil.copy(f'{data}/papalexi2021_lowmoi_grna_target_data_frame.csv', f'{out}/guide_targets.csv')
genes = [l.strip() for l in open(f'{out}/genes.txt') if l.strip()]
guides = [l.strip() for l in open(f'{out}/guide_ids.txt') if l.strip()]
target = dict(csv.reader(open(f'{out}/guide_targets.csv')))
rep = pd.read_csv(f'{data}/papalexi2021_lowmoi_extra_covariates.csv')['bio_rep'][:n].tolist()
Gd = G.toarray()
top = Gd.argmax(axis=0)
pert = [target[guides[g]] for g in top]
top_umis = [int(Gd[g, c]) for c, g in enumerate(top)]
frac = [float('nan') if c % 7 == 0 else Gd[g, c] / Gd[:, c].sum() for c, g in enumerate(top)]
obs = pd.DataFrame({'cell': [f'cell_{i:05d}' for i in range(n)], 'bio_rep': rep, 'perturbation': pert,
                    'top_guide_umis': top_umis, 'top_fraction': frac, 'is_control': [p == 'non-targeting' for p in pert]})
obs.to_csv(f'{out}/obs.csv', index=False)
text = [row.split(',')[4] for row in open(f'{out}/obs.csv').read().splitlines()[1:]]
frac = [float(t) if t else float('nan') for t in text]
frac_pandas = pd.read_csv(f'{out}/obs.csv')['top_fraction'].tolist()
expected = {'X': X.T.toarray().astype(int).tolist(), 'genes': genes, 'cells': obs['cell'].tolist(),
            'perturbation': pert, 'bioRep': rep, 'topGuideUmis': top_umis,
            'topFraction': [None if f != f else float(f) for f in frac],
            'topFractionPandas': [None if f != f else float(f) for f in frac_pandas], 'isControl': [bool(p == 'non-targeting') for p in pert]}
json.dump(expected, open(f'{out}/expected.json', 'w'))
print('ok')
`,
    [PERTURBATION_DATA_DIR, dir, String(cells)],
  );
  const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Omit<
    PapalexiSlice['expected'],
    'topFraction' | 'topFractionPandas'
  > & { topFraction: (number | null)[]; topFractionPandas: (number | null)[] };
  const nanForNull = (values: (number | null)[]) => values.map((f) => (f === null ? Number.NaN : f));
  return {
    dir,
    mtx: path.join(dir, 'slice.mtx'),
    genes: path.join(dir, 'genes.txt'),
    obs: path.join(dir, 'obs.csv'),
    guideCounts: path.join(dir, 'guides.mtx'),
    guideIds: path.join(dir, 'guide_ids.txt'),
    guideTargets: path.join(dir, 'guide_targets.csv'),
    expected: {
      ...expected,
      topFraction: nanForNull(expected.topFraction),
      topFractionPandas: nanForNull(expected.topFractionPandas),
    },
  };
}
