/**
 * Synthetic accessibility score: Ertl & Schuffenhauer, "Estimation of synthetic accessibility score of
 * drug-like molecules based on molecular complexity and fragment contributions", J. Cheminform. 1, 8 (2009),
 * in the form of RDKit's Contrib/SA_Score/sascorer.py (Ertl & Landrum, v1.1: the fingerprint-density
 * correction and the flat macrocycle penalty), with its fragment-contribution table.
 *
 * SA = 11 − 9·(fragment + complexity + density − (−4) + 1) / (2.5 − (−4)), smoothed above 8 and clipped to
 * [1, 10]; 1 is easy to make, 10 very hard.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { ELEMENT_SYMBOLS } from './elements';
import { connectivityInvariants, morganCounts, symmetryClasses } from './morgan';
import type { MolecularDescriptors, MoleculeGraph, RDKitModule, RDKitMol } from './rdkit';
import { moleculeGraph } from './rdkit';

const FRAGMENT_TABLE_FILE = path.join('server', 'molecules', 'data', 'sa-fragment-scores.bin.gz');

/** Fragment contributions keyed by unfolded Morgan (radius 2) identifier. */
export interface FragmentScoreTable {
  /** Contribution of a fragment identifier; undefined for fragments absent from the table. */
  score(identifier: number): number | undefined;
  readonly size: number;
}

let fragmentTable: FragmentScoreTable | undefined;

function fragmentTableLocation(): string {
  const candidates = [path.join(process.cwd(), FRAGMENT_TABLE_FILE)];
  try {
    candidates.unshift(
      path.join(path.dirname(fileURLToPath(import.meta.url)), 'data', path.basename(FRAGMENT_TABLE_FILE)),
    );
  } catch {
    // import.meta.url is not a file: URL inside some bundles; the working directory remains.
  }
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (!found)
    throw new Error(
      `SA fragment table not found (${FRAGMENT_TABLE_FILE}); see scripts/convert-molecule-data.ts`,
    );
  return found;
}

/** Decodes the table written by scripts/convert-molecule-data.ts (format documented there). */
export function decodeFragmentTable(gzipped: Buffer): FragmentScoreTable {
  const raw = zlib.gunzipSync(gzipped);
  if (raw.toString('latin1', 0, 4) !== 'SAFS' || raw.readUInt32LE(4) !== 1) {
    throw new Error('not an SA fragment table (version 1)');
  }
  const groupCount = raw.readUInt32LE(8);
  const identifierCount = raw.readUInt32LE(12);
  const scores = new Float64Array(groupCount);
  let offset = 16;
  for (let g = 0; g < groupCount; g++, offset += 8) scores[g] = raw.readDoubleLE(offset);
  const identifiers = new Uint32Array(identifierCount);
  let previous = 0;
  for (let i = 0; i < identifierCount; i++) {
    let delta = 0;
    let scale = 1;
    for (;;) {
      const byte = raw[offset++];
      delta += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 128;
    }
    previous += delta;
    identifiers[i] = previous;
  }
  const groups = new Uint16Array(identifierCount);
  for (let i = 0; i < identifierCount; i++, offset += 2) groups[i] = raw.readUInt16LE(offset);
  if (offset !== raw.length) throw new Error('SA fragment table has trailing bytes');
  return {
    size: identifierCount,
    score(identifier) {
      let low = 0;
      let high = identifierCount - 1;
      while (low <= high) {
        const middle = (low + high) >>> 1;
        const value = identifiers[middle];
        if (value === identifier) return scores[groups[middle]];
        if (value < identifier) low = middle + 1;
        else high = middle - 1;
      }
      return undefined;
    },
  };
}

/** The bundled fragment table, read on first use (≈ 0.1 s, 705k fragments). */
export function saFragmentTable(): FragmentScoreTable {
  fragmentTable ??= decodeFragmentTable(fs.readFileSync(fragmentTableLocation()));
  return fragmentTable;
}

/** The terms of the score, for inspection and tests. */
export interface SaScoreTerms {
  /** Mean fragment contribution (unknown fragments count −4). */
  fragmentScore: number;
  /** −(size + stereo + spiro + bridgehead + macrocycle penalties). */
  complexityScore: number;
  /** Symmetry correction: ½·ln(atoms / distinct fragments) when positive. */
  densityCorrection: number;
  score: number;
}

/**
 * Per-isotope Δmass for the Morgan atom invariants: int(isotope mass − average atomic weight), which RDKit
 * computes from its own mass tables, read here through RDKit and cached.
 */
const deltaMassCache = new Map<string, number>();
function isotopeDeltaMass(rdkit: RDKitModule, atomicNum: number, isotope: number): number {
  const symbol = ELEMENT_SYMBOLS[atomicNum];
  const key = `${isotope}${symbol}`;
  let delta = deltaMassCache.get(key);
  if (delta === undefined) {
    const masses = (smiles: string) => {
      const mol = rdkit.get_mol(smiles);
      if (!mol) return undefined;
      try {
        return JSON.parse(mol.get_descriptors()) as { exactmw: number; amw: number };
      } finally {
        mol.delete();
      }
    };
    const isotopic = masses(`[${isotope}${symbol}]`);
    const natural = masses(`[${symbol}]`);
    delta = isotopic && natural ? Math.trunc(isotopic.exactmw - natural.amw) : 0;
    deltaMassCache.set(key, delta);
  }
  return delta;
}

/**
 * The molecule's radius-2 Morgan environments with counts, keyed as the fragment table is: RDKit's
 * GetMorganFingerprint(mol, 2), isotopes included.
 */
export function fragmentCounts(rdkit: RDKitModule, graph: MoleculeGraph): Map<number, number> {
  const deltaMass = (index: number) => {
    const atom = graph.atoms[index];
    return atom.isotope ? isotopeDeltaMass(rdkit, atom.atomicNumber, atom.isotope) : 0;
  };
  return morganCounts(graph, 2, connectivityInvariants(graph, deltaMass));
}

/**
 * Stereocentres as RDKit 2022's legacy perception counts them (Chem.FindMolChiralCenters with
 * includeUnassigned=True), which is what the SA score was calibrated with. MinimalLib's
 * NumAtomStereoCenters agrees except for one later change: three-coordinate nitrogen in a three-membered
 * ring bonded to an sp/sp² atom (N-acyl, N-aryl, N-vinyl aziridines) is no longer flagged. Those nitrogens
 * are added back when their three neighbours are all different (RDKit's duplicate-rank test, done here with
 * symmetry classes).
 */
function legacyStereoCentreCount(graph: MoleculeGraph, descriptors: MolecularDescriptors): number {
  let extra = 0;
  let classes: number[] | undefined;
  const ringsOfThree = graph.atomRings.filter((ring) => ring.length === 3);
  if (ringsOfThree.length === 0) return descriptors.NumAtomStereoCenters;
  graph.atoms.forEach((atom, index) => {
    const bonds = graph.atomBonds[index];
    if (atom.atomicNumber !== 7 || atom.hydrogens !== 0 || bonds.length !== 3 || atom.aromatic) return;
    if (!ringsOfThree.some((ring) => ring.includes(index))) return;
    const neighbours = bonds.map((b) =>
      graph.bonds[b].begin === index ? graph.bonds[b].end : graph.bonds[b].begin,
    );
    const unsaturatedNeighbour = neighbours.some((neighbour) =>
      graph.atomBonds[neighbour].some((b) => graph.bonds[b].type !== 1),
    );
    if (!unsaturatedNeighbour) return;
    classes ??= symmetryClasses(graph);
    const neighbourClasses = new Set(neighbours.map((neighbour) => classes![neighbour]));
    if (neighbourClasses.size === 3) extra++;
  });
  return descriptors.NumAtomStereoCenters + extra;
}

/**
 * SA score of a parsed molecule. `descriptors` are its RDKit descriptors (for stereo, spiro and bridgehead
 * counts); `graph` its RDKit graph (read from the molecule when not given).
 */
export function saScoreTerms(
  rdkit: RDKitModule,
  mol: RDKitMol,
  descriptors: MolecularDescriptors,
  graph: MoleculeGraph = moleculeGraph(mol),
): SaScoreTerms {
  const table = saFragmentTable();
  const atomCount = graph.atoms.length;
  const fragments = fragmentCounts(rdkit, graph);

  // Fragment score: count-weighted mean contribution of the molecule's radius-2 Morgan environments.
  let weighted = 0;
  let total = 0;
  for (const [identifier, count] of fragments) {
    weighted += (table.score(identifier) ?? -4) * count;
    total += count;
  }
  const fragmentScore = total > 0 ? weighted / total : -4;

  // Complexity penalties (paper, eq. 2–6; macrocycle penalty flat log10(2) as in sascorer.py).
  const stereoCentres = legacyStereoCentreCount(graph, descriptors);
  const macrocycles = graph.atomRings.filter((ring) => ring.length > 8).length;
  const sizePenalty = atomCount ** 1.005 - atomCount;
  const stereoPenalty = Math.log10(stereoCentres + 1);
  const spiroPenalty = Math.log10(descriptors.NumSpiroAtoms + 1);
  const bridgePenalty = Math.log10(descriptors.NumBridgeheadAtoms + 1);
  const macrocyclePenalty = macrocycles > 0 ? Math.log10(2) : 0;
  const complexityScore = -(sizePenalty + stereoPenalty + spiroPenalty + bridgePenalty + macrocyclePenalty);

  // Fingerprint-density correction (sascorer.py v1.1): symmetric molecules are easier than their size says.
  const densityCorrection = atomCount > fragments.size ? 0.5 * Math.log(atomCount / fragments.size) : 0;

  const raw = fragmentScore + complexityScore + densityCorrection;
  const minimum = -4.0;
  const maximum = 2.5;
  let score = 11 - ((raw - minimum + 1) / (maximum - minimum)) * 9;
  if (score > 8) score = 8 + Math.log(score + 1 - 9);
  score = Math.min(10, Math.max(1, score));
  return { fragmentScore, complexityScore, densityCorrection, score };
}

/** SA score in [1, 10] (lower is easier to synthesise). */
export function saScore(
  rdkit: RDKitModule,
  mol: RDKitMol,
  descriptors: MolecularDescriptors,
  graph?: MoleculeGraph,
): number {
  return saScoreTerms(rdkit, mol, descriptors, graph).score;
}
