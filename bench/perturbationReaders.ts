/**
 * Reader throughput (cells per second) on the real Papalexi 2021 screen (20,729 cells × 299 genes,
 * 1.39 M non-zeros; ../shared/data/perturbation): the gzip MatrixMarket with its gene list, and the same
 * matrix as a CSR .h5ad written by the real AnnData (../shared/peers/write_h5ad.py) into a temporary
 * folder first. Each reader runs once to warm up, then the best of three timed runs counts.
 * Usage: npx tsx bench/perturbationReaders.ts (prints one JSON line), or runReaderBench() from the CLI.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readH5ad } from '../server/perturbation/h5ad';
import { readMtxScreen } from '../server/perturbation/mtx';
import { PERTURBATION_DATA_DIR, requireAnndataPeer, writeH5adWithAnndata } from '../test/support/anndataPeer';

const TIMED_RUNS = 3;

async function bestCellsPerSecond(read: () => Promise<{ cells: string[] }>): Promise<number> {
  await read();
  let best = Infinity;
  let cells = 0;
  for (let run = 0; run < TIMED_RUNS; run++) {
    const began = performance.now();
    const screen = await read();
    best = Math.min(best, (performance.now() - began) / 1000);
    cells = screen.cells.length;
  }
  return cells / best;
}

export async function runReaderBench(): Promise<{ h5ad: number; mtx: number }> {
  requireAnndataPeer();
  const data = (name: string) => path.join(PERTURBATION_DATA_DIR, name);
  const matrix = data('papalexi2021_lowmoi_response_matrix.mtx.gz');
  const genes = data('papalexi2021_lowmoi_response_matrix_rows.txt');
  const covariates = data('papalexi2021_lowmoi_extra_covariates.csv');
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-reader-bench-'));
  try {
    const h5adFile = path.join(directory, 'papalexi2021.h5ad');
    writeH5adWithAnndata({
      mtx: matrix,
      genes,
      obs: covariates,
      out: h5adFile,
      sparse: 'csr',
      categorical: ['bio_rep'],
    });
    const mtx = await bestCellsPerSecond(() => readMtxScreen({ matrix, genes, obs: covariates }));
    const h5ad = await bestCellsPerSecond(() => readH5ad(h5adFile));
    return { h5ad: Math.round(h5ad), mtx: Math.round(mtx) };
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runReaderBench();
  console.log(
    JSON.stringify({ bench: 'perturbation-readers', reader_cells_per_s: result, node: process.version }),
  );
}
