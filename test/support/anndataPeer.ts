/**
 * The real AnnData library as an oracle for the .h5ad reader and writer (DESIGN.md "Peers"): Debian's
 * interpreter (/usr/bin/python3, where ../shared/peers/install-peers.sh puts python3-anndata, python3-h5py
 * and python3-scipy) runs ../shared/peers/write_h5ad.py and small inline scripts. When the peer is
 * absent the tests that need it fail, saying what to install; they never skip.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEER_PYTHON = '/usr/bin/python3';

/** ../shared beside the project, as DESIGN.md lays it out. */
export const SHARED_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
);
export const WRITE_H5AD_SCRIPT = path.join(SHARED_DIR, 'peers', 'write_h5ad.py');
export const PERTURBATION_DATA_DIR = path.join(SHARED_DIR, 'data', 'perturbation');

const INSTALL_HINT =
  'install the AnnData peer: run ../shared/peers/install-peers.sh (Debian packages python3-anndata, ' +
  'python3-h5py, python3-scipy for /usr/bin/python3)';

let checkedVersion: string | undefined;

/** AnnData's version; throws, naming what to install, when the peer cannot run. */
export function requireAnndataPeer(): string {
  if (checkedVersion) return checkedVersion;
  if (!fs.existsSync(PEER_PYTHON)) throw new Error(`${PEER_PYTHON} not found: ${INSTALL_HINT}`);
  if (!fs.existsSync(WRITE_H5AD_SCRIPT))
    throw new Error(`${WRITE_H5AD_SCRIPT} not found (../shared/peers is missing)`);
  const probe = spawnSync(PEER_PYTHON, ['-c', 'import anndata, h5py, scipy; print(anndata.__version__)'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (probe.status !== 0) {
    const reason = probe.stderr.trim().split('\n').at(-1) ?? probe.error?.message ?? 'unknown error';
    throw new Error(`AnnData is not importable under ${PEER_PYTHON} (${reason}): ${INSTALL_HINT}`);
  }
  checkedVersion = probe.stdout.trim();
  return checkedVersion;
}

/** Runs `python3 -c code args…` and returns its stdout; throws with stderr's tail when it fails. */
export function runPeerPython(code: string, args: string[] = [], timeoutMs = 300_000): string {
  requireAnndataPeer();
  const result = spawnSync(PEER_PYTHON, ['-c', code, ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
  if (result.status !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-6).join('\n');
    throw new Error(`peer python failed (${result.error?.message ?? `exit ${result.status}`}):\n${tail}`);
  }
  return result.stdout;
}

/** Runs a peer script and parses its last stdout line as JSON. */
export function runPeerPythonJson<T>(code: string, args: string[] = [], timeoutMs?: number): T {
  const lastLine = runPeerPython(code, args, timeoutMs).trim().split('\n').at(-1) ?? '';
  return JSON.parse(lastLine) as T;
}

export interface WriteH5adArgs {
  mtx: string;
  genes: string;
  obs: string;
  out: string;
  /** How AnnData stores X. Default csr. */
  sparse?: 'csr' | 'csc' | 'dense';
  cellsByGenes?: boolean;
  obsIndex?: string;
  categorical?: string[];
}

/** Writes an .h5ad with the real AnnData library through ../shared/peers/write_h5ad.py. */
export function writeH5adWithAnndata(args: WriteH5adArgs): void {
  requireAnndataPeer();
  const argv = [
    WRITE_H5AD_SCRIPT,
    '--mtx',
    args.mtx,
    '--genes',
    args.genes,
    '--obs',
    args.obs,
    '--out',
    args.out,
  ];
  argv.push('--sparse', args.sparse ?? 'csr');
  if (args.cellsByGenes) argv.push('--cells-by-genes');
  if (args.obsIndex) argv.push('--obs-index', args.obsIndex);
  if (args.categorical?.length) argv.push('--categorical', ...args.categorical);
  const result = spawnSync(PEER_PYTHON, argv, { encoding: 'utf8', timeout: 600_000 });
  if (result.status !== 0) {
    const tail = result.stderr.trim().split('\n').slice(-6).join('\n');
    throw new Error(`write_h5ad.py failed (${result.error?.message ?? `exit ${result.status}`}):\n${tail}`);
  }
}

export interface AnndataView {
  shape: [number, number];
  /** 'csr_matrix', 'csc_matrix' or 'ndarray'. */
  xType: string;
  /** X as nested rows (cells × genes), dense. */
  X: number[][];
  obsNames: string[];
  varNames: string[];
  /** obs columns: values as JSON (NaN → null) and the pandas dtype. */
  obs: Record<string, { dtype: string; values: (string | number | boolean | null)[] }>;
  unsKeys: string[];
}

/** Reads an .h5ad with the real AnnData (anndata.read_h5ad) and returns what it sees. */
export function readH5adWithAnndata(file: string): AnndataView {
  return runPeerPythonJson<AnndataView>(
    `
import json, sys, math
import anndata, numpy as np, scipy.sparse as sp
a = anndata.read_h5ad(sys.argv[1])
X = a.X
kind = 'ndarray' if isinstance(X, np.ndarray) else type(X).__name__
dense = X.toarray() if sp.issparse(X) else np.asarray(X)
def clean(v):
    if isinstance(v, (np.bool_, bool)): return bool(v)
    if isinstance(v, (int, np.integer)): return int(v)
    if isinstance(v, (float, np.floating)): return None if math.isnan(v) else float(v)
    return str(v)
obs = {c: {'dtype': str(a.obs[c].dtype), 'values': [clean(v) for v in a.obs[c].tolist()]} for c in a.obs.columns}
print(json.dumps({'shape': list(a.shape), 'xType': kind, 'X': dense.astype(float).tolist(),
  'obsNames': list(map(str, a.obs_names)), 'varNames': list(map(str, a.var_names)), 'obs': obs,
  'unsKeys': sorted(a.uns.keys())}))
`,
    [file],
  );
}

/** A dense cells × genes matrix as MatrixMarket text (coordinate integer/real general), in either orientation. */
export function matrixMarketText(rows: number[][], orientation: 'genes-by-cells' | 'cells-by-genes'): string {
  const cells = rows.length;
  const genes = rows[0]?.length ?? 0;
  const integral = rows.every((row) => row.every((value) => Number.isInteger(value)));
  const entries: string[] = [];
  for (let c = 0; c < cells; c++) {
    for (let g = 0; g < genes; g++) {
      const value = rows[c][g];
      if (value === 0) continue;
      entries.push(
        orientation === 'genes-by-cells' ? `${g + 1} ${c + 1} ${value}` : `${c + 1} ${g + 1} ${value}`,
      );
    }
  }
  const [r, k] = orientation === 'genes-by-cells' ? [genes, cells] : [cells, genes];
  return [
    `%%MatrixMarket matrix coordinate ${integral ? 'integer' : 'real'} general`,
    '% written by the test',
    `${r} ${k} ${entries.length}`,
    ...entries,
    '',
  ].join('\n');
}
