/**
 * `tributary bench conformers` (issue 7 "Must show"): our conformer ensembles next to RDKit's standard
 * pipeline, ETKDGv3 embedding + MMFF94 minimisation (../shared/peers/rdkit_oracle.py conformers), at equal
 * requested ensemble sizes, on two sets:
 *
 *  - qm9: molecules of the GEOM-QM9 test list (../shared/data/conformers/geomol_qm9_test_smiles_corrected.csv,
 *    column corrected_smiles). The list is sorted by SMILES (its first 50 rows all start with "C#C"), so the
 *    bench takes evenly spaced rows, 0, s, 2s, … with s = ⌊rows / N⌋ (every 20th row for N = 50).
 *  - drugs: drug-like ZINC molecules (../shared/data/molecules/jtvae_zinc_test_5k.smi), the first N in file
 *    order (the file is in random order) with 18–30 heavy atoms, 3–7 rotatable bonds (RDKit's
 *    CalcNumRotatableBonds) and every stereocentre and stereo double bond specified (Chem.FindPotentialStereo),
 *    so that RDKit's ETKDG does not draw a different stereoisomer per conformer.
 *
 * Neither side grades itself: the MMFF94 energies of both ensembles are computed by RDKit
 * (rdkit_oracle.py energy, a single point on each stored structure). Per molecule: minimum, mean, and mean
 * over the distinct conformers (greedy clustering in order of energy at the project's 0.5 Å heavy-atom RMSD,
 * metrics.ts, so the cluster centres are their lowest-energy member); the number of distinct conformers and
 * the mean pairwise RMSD (our symmetric RMSD, rmsd.ts, on both ensembles); COV-R / MAT-R (and COV-P / MAT-P)
 * at 0.75 and 1.25 Å of our ensemble against RDKit's as the reference; seconds per molecule on each side.
 * Our seconds are generateEnsemble's (embedding, random torsions, MMFF94 minimisation, deduplication) after a
 * warm-up; RDKit's are measured inside Python by the oracle (EmbedMultipleConfs + MMFFOptimizeMoleculeConfs,
 * one thread), so interpreter start-up is not counted. Python is called in batches (one process for all
 * RDKit ensembles, one for all energies); when a batch fails, its molecules are redone one by one so that
 * one failure costs one molecule, and failures are listed with their reason instead of aborting the bench.
 *
 * Our ensemble deduplicates at 0.5 Å while it generates (ensemble.ts), so it can hold fewer than the
 * requested conformers (rigid molecules); RDKit's always holds what ETKDG embedded, duplicates included.
 * `mean_energy` is over each side's whole ensemble, `mean_energy_distinct` over its distinct conformers, and
 * `mean_energy_matched` over the k lowest-energy distinct conformers of each side, k the smaller of the two
 * distinct counts: the two sides at equal diversity (by count).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withRdkitAromaticity } from '../server/molecules/conformers/aromaticity';
import { generateEnsemble } from '../server/molecules/conformers/ensemble';
import { conformerEnsemble, type ConformerMethod } from '../server/molecules/conformers/generate';
import {
  coverageMatching,
  distinctConformerIndices,
  meanPairwiseRmsd,
} from '../server/molecules/conformers/metrics';
import { heavyAtomGraph, SymmetricRmsd, type HeavyAtomGraph } from '../server/molecules/conformers/rmsd';
import { readSdf, writeSdf } from '../server/molecules/conformers/sdf';
import { loadRDKit } from '../server/molecules/rdkit';

const sharedDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared');
const oracle = path.join(sharedDir, 'peers', 'rdkit_oracle.py');
const python = '/usr/bin/python3';
export const QM9_TEST_FILE = path.join(
  sharedDir,
  'data',
  'conformers',
  'geomol_qm9_test_smiles_corrected.csv',
);
export const ZINC_FILE = path.join(sharedDir, 'data', 'molecules', 'jtvae_zinc_test_5k.smi');

/** The drug-like choice: heavy atoms and RDKit rotatable bonds (inclusive ranges), stereo fully specified. */
export const DRUG_CRITERIA = { heavyAtoms: [18, 30], rotatableBonds: [3, 7] } as const;

export interface BenchMolecule {
  /** e.g. "qm9:120" (data row, 0-based) or "zinc:57" (line, 1-based). */
  readonly id: string;
  readonly set: 'qm9' | 'drugs';
  readonly smiles: string;
}

export interface ConformerBenchOptions {
  readonly qm9Molecules: number;
  readonly drugMolecules: number;
  /** Conformers requested from each side per molecule. */
  readonly conformers: number;
  /** Seed of both generators (RDKit's must be ≥ 1: the oracle refuses 0). */
  readonly seed: number;
  /** Our method (server/molecules/conformers/generate.ts); default 'ensemble'. */
  readonly method?: ConformerMethod;
}

export interface CompareOptions {
  readonly conformers: number;
  readonly seed: number;
  /** Heavy-atom RMSD (Å) under which two conformers are the same (ours deduplicates at it; distinct counts). */
  readonly rmsdThreshold?: number;
  /** Called with one line of progress. */
  readonly log?: (line: string) => void;
  /** Our method (default 'ensemble'). */
  readonly method?: ConformerMethod;
}

export interface SideFigures {
  readonly conformers: number;
  readonly min_energy: number;
  readonly mean_energy: number;
  readonly mean_energy_distinct: number;
  /** Mean over the k lowest distinct conformers, k = min(our distinct, RDKit's distinct) (`matched_k`). */
  readonly mean_energy_matched: number;
  readonly distinct: number;
  readonly mean_pairwise_rmsd: number;
  readonly seconds: number;
}

export interface MoleculeComparison {
  readonly id: string;
  readonly set: BenchMolecule['set'];
  readonly smiles: string;
  readonly heavy_atoms: number;
  readonly rotatable_bonds: number;
  readonly matched_k: number;
  readonly ours: SideFigures;
  readonly rdkit: SideFigures;
  readonly cov_r_075: number;
  readonly cov_r_125: number;
  readonly mat_r: number;
  readonly cov_p_075: number;
  readonly cov_p_125: number;
  readonly mat_p: number;
  /** Largest |our OpenChemLib MMFF94 energy − RDKit's| over our conformers (kcal/mol): a consistency check. */
  readonly ours_energy_max_diff: number;
  /** Largest |RDKit's energy after its minimisation − its single point on the written SDF| (kcal/mol). */
  readonly rdkit_energy_max_diff: number;
  /** True when a molecule has more graph symmetries than SymmetricRmsd enumerates (RMSDs are upper bounds). */
  readonly rmsd_truncated: boolean;
  /**
   * Conformers of each side whose stereoisomer, read from 3-D by RDKit (canonical SMILES of the SD record),
   * differs from RDKit's canonical SMILES of the input. A flag to look at, not a verdict: it catches a wrong
   * stereoisomer (which the heavy-atom RMSD cannot see for a flipped C=N–H), but also stereo left unspecified
   * in the input that a record's 3-D geometry makes definite, and perception differences in strained cages.
   */
  readonly stereo_mismatch: { readonly ours: number; readonly rdkit: number };
}

export interface BenchFailure {
  readonly id: string;
  readonly set: BenchMolecule['set'];
  readonly smiles: string;
  readonly side: 'ours' | 'rdkit' | 'comparison';
  readonly reason: string;
}

const round = (value: number, digits = 4) => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s+/g, ' ').trim().slice(0, 300);
}

// ------------------------------------------------------------------------------------------ molecules

/** Evenly spaced rows of the GEOM-QM9 test list (corrected_smiles column). */
export function selectQm9(count: number, file = QM9_TEST_FILE): BenchMolecule[] {
  const lines = fs.readFileSync(file, 'utf8').split(/\r?\n/);
  const header = lines[0].split(',').map((cell) => cell.trim());
  const column = header.indexOf('corrected_smiles');
  if (column < 0) throw new Error(`${file}: no corrected_smiles column`);
  const rows = lines
    .slice(1)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => line.split(',')[column]);
  const stride = Math.max(1, Math.floor(rows.length / Math.max(1, count)));
  const chosen: BenchMolecule[] = [];
  for (let row = 0; row < rows.length && chosen.length < count; row += stride)
    chosen.push({ id: `qm9:${row}`, set: 'qm9', smiles: rows[row] });
  return chosen;
}

function runPython(args: string[], input: string, timeoutMs: number) {
  return spawnSync(python, args, {
    encoding: 'utf8',
    input,
    timeout: timeoutMs,
    maxBuffer: 512 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
}

function pythonFailure(what: string, run: ReturnType<typeof runPython>): Error {
  const why =
    (run.stderr || run.error?.message || '').trim().split('\n').slice(-2).join(' | ') ||
    `exit status ${run.status}, signal ${run.signal}`;
  return new Error(`${what} failed: ${why}`);
}

function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as T);
}

/** The first `count` ZINC molecules meeting DRUG_CRITERIA, in file order (RDKit decides the criteria). */
export function selectDrugs(count: number, file = ZINC_FILE): BenchMolecule[] {
  if (count === 0) return [];
  const script = `import sys, json
from rdkit import Chem, RDLogger
from rdkit.Chem import rdMolDescriptors
RDLogger.DisableLog("rdApp.*")
d = json.load(sys.stdin)
out = []
with open(d["file"]) as f:
    for number, line in enumerate(f, 1):
        s = line.strip().split()
        if not s: continue
        m = Chem.MolFromSmiles(s[0])
        if m is None: continue
        heavy, rotb = m.GetNumHeavyAtoms(), rdMolDescriptors.CalcNumRotatableBonds(m)
        if not (d["heavy"][0] <= heavy <= d["heavy"][1] and d["rotb"][0] <= rotb <= d["rotb"][1]): continue
        if any(si.specified == Chem.StereoSpecified.Unspecified for si in Chem.FindPotentialStereo(m)): continue
        out.append({"line": number, "smiles": s[0]})
        if len(out) >= d["count"]: break
print(json.dumps(out))`;
  const run = runPython(
    ['-c', script],
    JSON.stringify({
      file,
      count,
      heavy: DRUG_CRITERIA.heavyAtoms,
      rotb: DRUG_CRITERIA.rotatableBonds,
    }),
    120_000,
  );
  if (run.status !== 0) throw pythonFailure('choosing the ZINC molecules (RDKit)', run);
  const rows = JSON.parse(run.stdout) as { line: number; smiles: string }[];
  return rows.map((row) => ({ id: `zinc:${row.line}`, set: 'drugs', smiles: row.smiles }));
}

// ------------------------------------------------------------------------------------------ python batches

type Outcome<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Runs `batch` on all items at once (one Python process); if it throws, runs it on each item alone, so that
 * a failure costs only the item that caused it.
 */
function batchOrEach<I, T>(
  items: readonly I[],
  batch: (items: readonly I[]) => T[],
  what: string,
): Outcome<T>[] {
  if (items.length === 0) return [];
  try {
    const values = batch(items);
    if (values.length !== items.length)
      throw new Error(`${what}: ${values.length} results for ${items.length} molecules`);
    return values.map((value) => ({ ok: true, value }));
  } catch (error) {
    if (items.length === 1) return [{ ok: false, reason: shortReason(error) }];
    console.error(`[bench conformers] ${what} batch failed (${shortReason(error)}); one molecule at a time`);
    return items.map((item) => {
      try {
        const [value] = batch([item]);
        if (value === undefined) throw new Error(`${what}: no result`);
        return { ok: true, value };
      } catch (itemError) {
        return { ok: false, reason: shortReason(itemError) };
      }
    });
  }
}

function sdfRecords(text: string): string[] {
  return text
    .split(/^\$\$\$\$\r?$/m)
    .filter((record) => record.trim())
    .map((record) => `${record.replace(/^\r?\n/, '')}$$$$\n`);
}

interface RdkitEnsemble {
  /** SD records in the order written; energies after RDKit's MMFF minimisation, as the oracle reports. */
  readonly records: string[];
  readonly energies: number[];
  readonly seconds: number;
  /** RDKit's canonical SMILES of the input (the stereoisomer asked for). */
  readonly canonical: string;
}

/** RDKit's MMFF94 single point of one SD record, and its canonical SMILES with stereo read from 3-D. */
interface RecordEnergy {
  readonly energy: number | null;
  readonly canonical: string;
}

/** rdkit_oracle.py conformers on each SMILES (one process per batch); an item is null when ETKDG failed. */
function rdkitConformers(
  smiles: readonly string[],
  n: number,
  seed: number,
  scratch: string,
): Outcome<RdkitEnsemble | { failed: string }>[] {
  let call = 0;
  return batchOrEach(
    smiles,
    (batch) => {
      const sdfFile = path.join(scratch, `rdkit-${call++}.sdf`);
      const run = runPython(
        [oracle, 'conformers', '--n', String(n), '--seed', String(seed), '--sdf', sdfFile],
        batch.map((s) => `${s}\n`).join(''),
        Math.max(600_000, batch.length * 300_000),
      );
      if (run.status !== 0) throw pythonFailure('rdkit_oracle.py conformers', run);
      const rows = jsonLines<{
        valid: boolean;
        canonical?: string;
        n?: number;
        energies?: number[];
        seconds?: number;
      }>(run.stdout);
      const records = fs.existsSync(sdfFile) ? sdfRecords(fs.readFileSync(sdfFile, 'utf8')) : [];
      let cursor = 0;
      const out = rows.map((row) => {
        if (!row.valid) return { failed: 'RDKit cannot parse the SMILES' };
        const count = row.n ?? 0;
        const own = records.slice(cursor, cursor + count);
        cursor += count;
        if (count === 0) return { failed: 'ETKDG embedded no conformer' };
        return {
          records: own,
          energies: row.energies ?? [],
          seconds: row.seconds ?? Number.NaN,
          canonical: row.canonical ?? '',
        };
      });
      if (cursor !== records.length)
        throw new Error(`rdkit_oracle.py conformers: ${records.length} SD records for ${cursor} conformers`);
      return out;
    },
    'rdkit_oracle.py conformers',
  );
}

/** RDKit's MMFF94 single-point energy of each record of each SD text (null where MMFF cannot type it). */
function rdkitEnergies(sdfs: readonly string[]): Outcome<RecordEnergy[]>[] {
  return batchOrEach(
    sdfs,
    (batch) => {
      const counts = batch.map((text) => sdfRecords(text).length);
      const run = runPython([oracle, 'energy'], batch.join(''), Math.max(300_000, batch.length * 60_000));
      if (run.status !== 0) throw pythonFailure('rdkit_oracle.py energy', run);
      const rows = jsonLines<{ energy?: number | null; canonical?: string }>(run.stdout);
      const total = counts.reduce((sum, count) => sum + count, 0);
      if (rows.length !== total)
        throw new Error(`rdkit_oracle.py energy: ${rows.length} energies for ${total} records`);
      let cursor = 0;
      return counts.map((count) => {
        const energies = rows
          .slice(cursor, cursor + count)
          .map((row) => ({ energy: row.energy ?? null, canonical: row.canonical ?? '' }));
        cursor += count;
        return energies;
      });
    },
    'rdkit_oracle.py energy',
  );
}

// ------------------------------------------------------------------------------------------ comparison

interface OurEnsemble {
  readonly sdf: string;
  readonly coordinates: Float64Array[];
  readonly energies: number[];
  readonly graph: HeavyAtomGraph;
  readonly heavyAtoms: number;
  readonly rotatableBonds: number;
  readonly seconds: number;
}

/** Energy order, distinct conformers at the threshold, and the side's figures (energies from RDKit). */
function sideFigures(
  energies: readonly number[],
  coordinates: readonly Float64Array[],
  symmetric: SymmetricRmsd,
  threshold: number,
  seconds: number,
): { figures: Omit<SideFigures, 'mean_energy_matched'>; distinctEnergies: number[] } {
  const order = energies.map((_, index) => index).sort((a, b) => energies[a] - energies[b]);
  const sorted = order.map((index) => coordinates[index]);
  const sortedEnergies = order.map((index) => energies[index]);
  const rmsd = symmetric.matrix(sorted, sorted);
  const distinct = distinctConformerIndices(rmsd, threshold);
  return {
    distinctEnergies: distinct.map((index) => sortedEnergies[index]),
    figures: {
      conformers: energies.length,
      min_energy: sortedEnergies[0],
      mean_energy: mean(sortedEnergies),
      mean_energy_distinct: mean(distinct.map((index) => sortedEnergies[index])),
      distinct: distinct.length,
      mean_pairwise_rmsd: meanPairwiseRmsd(rmsd),
      seconds,
    },
  };
}

function roundSide(side: SideFigures): SideFigures {
  return {
    conformers: side.conformers,
    min_energy: round(side.min_energy),
    mean_energy: round(side.mean_energy),
    mean_energy_distinct: round(side.mean_energy_distinct),
    mean_energy_matched: round(side.mean_energy_matched),
    distinct: side.distinct,
    mean_pairwise_rmsd: round(side.mean_pairwise_rmsd),
    seconds: round(side.seconds, 3),
  };
}

/**
 * The per-molecule comparison: our ensembles (in this process), RDKit's (one Python batch), RDKit's MMFF94
 * energies of both (one batch), then the metrics. A molecule failing on either side is listed in
 * `failures` with the reason; the others go on.
 */
export async function compareConformers(
  molecules: readonly BenchMolecule[],
  options: CompareOptions,
): Promise<{
  results: MoleculeComparison[];
  failures: BenchFailure[];
  oursSeconds: number;
  rdkitSeconds: number;
}> {
  const log = options.log ?? ((line: string) => console.error(`[bench conformers] ${line}`));
  const threshold = options.rmsdThreshold ?? 0.5;
  const failures: BenchFailure[] = [];
  const fail = (molecule: BenchMolecule, side: BenchFailure['side'], reason: string) => {
    failures.push({ id: molecule.id, set: molecule.set, smiles: molecule.smiles, side, reason });
    log(`${molecule.id} ${molecule.smiles}: ${side} failed: ${reason}`);
  };

  // Warm-up outside the timings: RDKit MinimalLib (aromaticity) and OpenChemLib's MMFF tables load once.
  await loadRDKit();
  await generateEnsemble('CCCO', { n: 2, seed: 1 });

  const oursStarted = performance.now();
  const ours: (OurEnsemble | null)[] = [];
  for (const [index, molecule] of molecules.entries()) {
    try {
      const ensemble = await conformerEnsemble(molecule.smiles, {
        method: options.method ?? 'ensemble',
        n: options.conformers,
        seed: options.seed,
        rmsdThreshold: threshold,
      });
      if (ensemble.conformers.length === 0) throw new Error('no conformer survived minimisation');
      const coordinates = ensemble.conformers.map((conformer) => conformer.coordinates);
      ours.push({
        sdf: writeSdf(
          ensemble.topology,
          coordinates.map((c, k) => ({ name: `${molecule.id} ours ${k + 1}`, coordinates: c })),
        ),
        coordinates,
        energies: ensemble.conformers.map((conformer) => conformer.energy),
        graph: heavyAtomGraph(ensemble.topology),
        heavyAtoms: ensemble.topology.heavyAtoms.length,
        rotatableBonds: ensemble.rotatableBonds.length,
        seconds: ensemble.seconds,
      });
      log(
        `ours ${index + 1}/${molecules.length} ${molecule.id} ${molecule.smiles}: ` +
          `${ensemble.conformers.length} conformers from ${ensemble.candidates} candidates in ${ensemble.seconds.toFixed(1)} s`,
      );
    } catch (error) {
      ours.push(null);
      fail(molecule, 'ours', shortReason(error));
    }
  }
  const oursSeconds = (performance.now() - oursStarted) / 1000;

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-bench-conformers-'));
  try {
    const rdkitStarted = performance.now();
    const rdkit = rdkitConformers(
      molecules.map((molecule) => molecule.smiles),
      options.conformers,
      options.seed,
      scratch,
    );
    const rdkitSeconds = (performance.now() - rdkitStarted) / 1000;
    log(`RDKit ETKDG + MMFF on ${molecules.length} molecules: ${rdkitSeconds.toFixed(1)} s (one process)`);

    // Both sides' structures go to RDKit's MMFF94 in one batch: ours first, then RDKit's.
    const rdkitSdf = rdkit.map((outcome) =>
      outcome.ok && 'records' in outcome.value ? outcome.value.records.join('') : '',
    );
    const energies = rdkitEnergies([...ours.map((entry) => entry?.sdf ?? ''), ...rdkitSdf]);
    const oursEnergies = energies.slice(0, molecules.length);
    const rdkitEnergiesOf = energies.slice(molecules.length);

    const results: MoleculeComparison[] = [];
    for (const [index, molecule] of molecules.entries()) {
      const our = ours[index];
      const peer = rdkit[index];
      if (!peer.ok) fail(molecule, 'rdkit', peer.reason);
      else if ('failed' in peer.value) fail(molecule, 'rdkit', peer.value.failed);
      if (!our || !peer.ok || 'failed' in peer.value) continue;
      const wanted = peer.value.canonical;
      const ourEnergies = oursEnergies[index];
      const peerEnergies = rdkitEnergiesOf[index];
      if (!ourEnergies.ok || !peerEnergies.ok) {
        const reason = !ourEnergies.ok ? ourEnergies.reason : !peerEnergies.ok ? peerEnergies.reason : '';
        fail(molecule, 'comparison', `RDKit energies: ${reason}`);
        continue;
      }
      const finite = (rows: RecordEnergy[]) =>
        rows.map((row) => row.energy).filter((e): e is number => e !== null && Number.isFinite(e));
      const ourRdkitEnergies = finite(ourEnergies.value);
      const peerRdkitEnergies = finite(peerEnergies.value);
      const missingOurs = ourEnergies.value.length - ourRdkitEnergies.length;
      const missingPeer = peerEnergies.value.length - peerRdkitEnergies.length;
      if (missingOurs > 0 || missingPeer > 0) {
        fail(
          molecule,
          'comparison',
          `RDKit MMFF94 gave no energy for ${missingOurs} of our and ${missingPeer} of RDKit's conformers`,
        );
        continue;
      }
      try {
        const peerMolecules = readSdf(peer.value.records.join(''));
        const peerGraph = heavyAtomGraph(await withRdkitAromaticity(peerMolecules[0].topology));
        const peerCoordinates = peerMolecules.map((entry) => entry.coordinates);
        const oursSelf = new SymmetricRmsd(our.graph);
        const peerSelf = new SymmetricRmsd(peerGraph);
        const cross = new SymmetricRmsd(peerGraph, our.graph);
        const oursSide = sideFigures(ourRdkitEnergies, our.coordinates, oursSelf, threshold, our.seconds);
        const peerSide = sideFigures(
          peerRdkitEnergies,
          peerCoordinates,
          peerSelf,
          threshold,
          peer.value.seconds,
        );
        const matchedK = Math.min(oursSide.distinctEnergies.length, peerSide.distinctEnergies.length);
        const matched = (energies: number[]) => mean(energies.slice(0, matchedK));
        const coverage = coverageMatching(cross.matrix(peerCoordinates, our.coordinates));
        const result: MoleculeComparison = {
          id: molecule.id,
          set: molecule.set,
          smiles: molecule.smiles,
          heavy_atoms: our.heavyAtoms,
          rotatable_bonds: our.rotatableBonds,
          matched_k: matchedK,
          ours: roundSide({ ...oursSide.figures, mean_energy_matched: matched(oursSide.distinctEnergies) }),
          rdkit: roundSide({ ...peerSide.figures, mean_energy_matched: matched(peerSide.distinctEnergies) }),
          cov_r_075: round(coverage.covR['0.75']),
          cov_r_125: round(coverage.covR['1.25']),
          mat_r: round(coverage.matR),
          cov_p_075: round(coverage.covP['0.75']),
          cov_p_125: round(coverage.covP['1.25']),
          mat_p: round(coverage.matP),
          ours_energy_max_diff: round(
            Math.max(...our.energies.map((e, k) => Math.abs(e - ourRdkitEnergies[k]))),
          ),
          rdkit_energy_max_diff: round(
            Math.max(...peer.value.energies.map((e, k) => Math.abs(e - peerRdkitEnergies[k]))),
          ),
          rmsd_truncated: oursSelf.truncated || peerSelf.truncated || cross.truncated,
          stereo_mismatch: {
            ours: ourEnergies.value.filter((row) => row.canonical !== wanted).length,
            rdkit: peerEnergies.value.filter((row) => row.canonical !== wanted).length,
          },
        };
        results.push(result);
        log(
          `${molecule.id} ${molecule.smiles}: mean E ours ${result.ours.mean_energy.toFixed(2)} vs RDKit ` +
            `${result.rdkit.mean_energy.toFixed(2)}, min ${result.ours.min_energy.toFixed(2)} vs ` +
            `${result.rdkit.min_energy.toFixed(2)}, distinct ${result.ours.distinct}/${result.ours.conformers} vs ` +
            `${result.rdkit.distinct}/${result.rdkit.conformers}, COV-R@1.25 ${result.cov_r_125.toFixed(2)}, ` +
            `MAT-R ${result.mat_r.toFixed(2)}, ${result.ours.seconds.toFixed(1)} s vs ${result.rdkit.seconds.toFixed(1)} s`,
        );
      } catch (error) {
        fail(molecule, 'comparison', shortReason(error));
      }
    }
    return { results, failures, oursSeconds, rdkitSeconds };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------ summary

function averageSide(sides: readonly SideFigures[]) {
  const of = (key: keyof SideFigures) => round(mean(sides.map((side) => side[key])), 3);
  return {
    min_energy: of('min_energy'),
    mean_energy: of('mean_energy'),
    mean_energy_distinct: of('mean_energy_distinct'),
    mean_energy_matched: of('mean_energy_matched'),
    distinct: of('distinct'),
    conformers: of('conformers'),
    mean_pairwise_rmsd: of('mean_pairwise_rmsd'),
    seconds_per_molecule: of('seconds'),
  };
}

/** Figures averaged over molecules (energies in kcal/mol, computed by RDKit on both sides). */
export function summariseComparisons(results: readonly MoleculeComparison[]) {
  const of = (pick: (result: MoleculeComparison) => number) => round(mean(results.map(pick)), 4);
  /** A side's minimum or matched mean counts as lower when below the other's by more than 0.01 kcal/mol. */
  const tolerance = 0.01;
  return {
    molecules: results.length,
    ours: averageSide(results.map((result) => result.ours)),
    rdkit: averageSide(results.map((result) => result.rdkit)),
    cov_r_075: of((result) => result.cov_r_075),
    cov_r_125: of((result) => result.cov_r_125),
    mat_r: of((result) => result.mat_r),
    cov_p_075: of((result) => result.cov_p_075),
    cov_p_125: of((result) => result.cov_p_125),
    mat_p: of((result) => result.mat_p),
    ours_lower_mean_energy: results.filter((r) => r.ours.mean_energy < r.rdkit.mean_energy).length,
    ours_lower_mean_energy_distinct: results.filter(
      (r) => r.ours.mean_energy_distinct < r.rdkit.mean_energy_distinct,
    ).length,
    ours_lower_mean_energy_matched: results.filter(
      (r) => r.ours.mean_energy_matched < r.rdkit.mean_energy_matched - tolerance,
    ).length,
    rdkit_lower_mean_energy_matched: results.filter(
      (r) => r.rdkit.mean_energy_matched < r.ours.mean_energy_matched - tolerance,
    ).length,
    ours_lower_min_energy: results.filter((r) => r.ours.min_energy < r.rdkit.min_energy - tolerance).length,
    rdkit_lower_min_energy: results.filter((r) => r.rdkit.min_energy < r.ours.min_energy - tolerance).length,
  };
}

export async function runConformerBench(options: ConformerBenchOptions) {
  if (options.seed < 1) throw new Error('bench conformers: --seed must be ≥ 1 (rdkit_oracle.py refuses 0)');
  const qm9 = selectQm9(options.qm9Molecules);
  const molecules = [...qm9, ...selectDrugs(options.drugMolecules)];
  const qm9Rows =
    qm9.length > 2
      ? [qm9[0], qm9[1], qm9[qm9.length - 1]]
          .map((m) => m.id.replace(/^qm9:/, ''))
          .join(', ')
          .replace(/, (\d+)$/, ', …, $1')
      : qm9.map((m) => m.id.replace(/^qm9:/, '')).join(', ');
  console.error(
    `[bench conformers] ${molecules.filter((m) => m.set === 'qm9').length} GEOM-QM9 + ` +
      `${molecules.filter((m) => m.set === 'drugs').length} ZINC molecules, ${options.conformers} conformers each, seed ${options.seed}`,
  );
  const started = performance.now();
  const { results, failures, oursSeconds, rdkitSeconds } = await compareConformers(molecules, {
    conformers: options.conformers,
    seed: options.seed,
    method: options.method,
  });
  const overall = summariseComparisons(results);
  const sets = {
    qm9: summariseComparisons(results.filter((result) => result.set === 'qm9')),
    drugs: summariseComparisons(results.filter((result) => result.set === 'drugs')),
  };
  console.error('[bench conformers] per molecule:');
  for (const result of results) console.error(JSON.stringify(result));
  return {
    bench: 'conformers',
    method: options.method ?? 'ensemble',
    ...overall,
    sets,
    failures,
    requested: {
      qm9: options.qm9Molecules,
      drugs: options.drugMolecules,
      conformers: options.conformers,
      seed: options.seed,
    },
    rmsd_threshold: 0.5,
    energy: 'MMFF94 single points by RDKit (rdkit_oracle.py energy) on both ensembles',
    ours_method: 'ocl-random-torsions-mmff (server/molecules/conformers/ensemble.ts)',
    rdkit_method: 'ETKDGv3 + MMFFOptimizeMoleculeConfs(maxIters=2000) (rdkit_oracle.py conformers)',
    seconds_source: {
      ours: 'generateEnsemble per molecule, after a warm-up',
      rdkit: 'measured inside Python by rdkit_oracle.py (embedding + minimisation, one thread)',
    },
    max_energy_diff: {
      ours_ocl_vs_rdkit: round(Math.max(0, ...results.map((result) => result.ours_energy_max_diff))),
      rdkit_minimised_vs_single_point: round(
        Math.max(0, ...results.map((result) => result.rdkit_energy_max_diff)),
      ),
    },
    rmsd_truncated: results.filter((result) => result.rmsd_truncated).map((result) => result.id),
    stereo_mismatch: results
      .filter((result) => result.stereo_mismatch.ours > 0 || result.stereo_mismatch.rdkit > 0)
      .map((result) => ({ id: result.id, smiles: result.smiles, ...result.stereo_mismatch })),
    wall_seconds: {
      ours_total: round(oursSeconds, 1),
      rdkit_conformers_call: round(rdkitSeconds, 1),
      total: round((performance.now() - started) / 1000, 1),
    },
    selection: {
      qm9: `rows ${qm9Rows} of geomol_qm9_test_smiles_corrected.csv (corrected_smiles; evenly spaced, the list is sorted)`,
      drugs: `first ${options.drugMolecules} of jtvae_zinc_test_5k.smi with ${DRUG_CRITERIA.heavyAtoms.join('–')} heavy atoms, ${DRUG_CRITERIA.rotatableBonds.join('–')} RDKit rotatable bonds, all stereo specified`,
    },
  };
}
