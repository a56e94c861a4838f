/**
 * The baseline conformer ensemble (DESIGN.md §4, the base generator the torsional flows build on):
 * OpenChemLib's ConformerGenerator supplies collision-free starting geometries (all hydrogens explicit, likely
 * torsions from its torsion database); further candidates take one of those and draw every rotatable torsion
 * uniformly on (−π, π] (rigid rotations, so bond lengths and angles stay those of the base geometry); every
 * candidate is relaxed by a local MMFF94 minimisation; a minimisation that returns non-finite numbers, or that
 * inverted a stereocentre or flipped a stereo double bond of its start, is discarded; candidates closer than
 * `rmsdThreshold` (heavy-atom RMSD with symmetry) to a kept conformer are merged into it, the lower energy
 * winning. Generation stops at `n` distinct conformers or after `maxCandidates` candidates, so a rigid
 * molecule, or one with few minima `rmsdThreshold` apart, yields fewer than `n`.
 */
import { createRng, type Rng } from '../../engines/random';
import { withRdkitAromaticity } from './aromaticity';
import { MmffEvaluator, type MinimisedConformer, type MmffVariant } from './mmff';
import { openChemLib, type OclMolecule } from './ocl';
import { heavyAtomGraph, SymmetricRmsd, type CentredPoints } from './rmsd';
import { coordinatesFromOcl, moleculeFromSmiles, topologyFromOcl, type MoleculeTopology } from './structure';
import {
  dihedralAngle,
  findPolarHydrogenRotors,
  findRotatableBonds,
  setTorsion,
  type RotatableBond,
} from './torsions';

export interface EnsembleOptions {
  /** Distinct conformers wanted. */
  readonly n: number;
  readonly seed?: number;
  /** Heavy-atom RMSD (Å) under which two minimised conformers count as the same. */
  readonly rmsdThreshold?: number;
  /** Candidates (embedded or random-torsion, each minimised) tried at most; default 3n + 10. */
  readonly maxCandidates?: number;
  readonly variant?: MmffVariant;
  readonly maxMinimisationIterations?: number;
  /**
   * Called after each candidate and awaited (a job reports progress and lets the event loop run here;
   * throwing cancels).
   */
  readonly onCandidate?: (candidates: number, kept: number) => void | Promise<void>;
}

export interface Conformer {
  readonly coordinates: Float64Array;
  /** MMFF94 energy after minimisation, kcal/mol. */
  readonly energy: number;
  readonly converged: boolean;
  /**
   * 'embedded' from OpenChemLib's generator, 'random-torsions' from torsions drawn uniformly, 'flow' from a
   * torsional flow's sample (torsionalFlow.ts).
   */
  readonly origin: 'embedded' | 'random-torsions' | 'flow';
}

export interface Ensemble {
  readonly smiles: string;
  /** The molecule with all hydrogens explicit (atom order of every conformer). */
  readonly molecule: OclMolecule;
  readonly topology: MoleculeTopology;
  readonly rotatableBonds: readonly RotatableBond[];
  /** Distinct conformers, lowest energy first. */
  readonly conformers: readonly Conformer[];
  /** Candidates tried (embedded and random-torsion), including the discarded ones. */
  readonly candidates: number;
  /** Candidates whose MMFF94 minimisation returned a non-finite energy or coordinates (discarded). */
  readonly failedMinimisations: number;
  /** Candidates whose minimisation inverted a stereocentre or flipped a double bond (discarded). */
  readonly stereoChanges: number;
  readonly seconds: number;
}

/** Pairs of atoms more than three bonds apart, whose approach below CLASH_DISTANCE marks a clash. */
export function nonBondedPairs(topology: MoleculeTopology): Int32Array {
  const pairs: number[] = [];
  for (let start = 0; start < topology.atomCount; start++) {
    const depth = new Map<number, number>([[start, 0]]);
    const queue = [start];
    while (queue.length > 0) {
      const atom = queue.shift()!;
      if (depth.get(atom)! >= 3) continue;
      for (const other of topology.neighbours[atom])
        if (!depth.has(other)) {
          depth.set(other, depth.get(atom)! + 1);
          queue.push(other);
        }
    }
    for (let other = start + 1; other < topology.atomCount; other++)
      if (!depth.has(other)) pairs.push(start, other);
  }
  return Int32Array.from(pairs);
}

/** Closer than this (Å), two atoms overlap so badly that minimisation from there is wasted work. */
const CLASH_DISTANCE = 1.2;

export function hasClash(coordinates: Float64Array, pairs: Int32Array): boolean {
  for (let k = 0; k < pairs.length; k += 2) {
    const i = 3 * pairs[k];
    const j = 3 * pairs[k + 1];
    const dx = coordinates[i] - coordinates[j];
    const dy = coordinates[i + 1] - coordinates[j + 1];
    const dz = coordinates[i + 2] - coordinates[j + 2];
    if (dx * dx + dy * dy + dz * dz < CLASH_DISTANCE * CLASH_DISTANCE) return true;
  }
  return false;
}

/**
 * Random torsions on a copy of `base`, redrawn up to 20 times while atoms clash (the last draw is kept then:
 * minimisation usually resolves a clash, and the checks after it catch the starts it cannot).
 */
function randomTorsionCandidate(
  base: Float64Array,
  bonds: readonly RotatableBond[],
  pairs: Int32Array,
  rng: Rng,
): Float64Array {
  let coordinates = base;
  for (let attempt = 0; attempt < 20; attempt++) {
    coordinates = Float64Array.from(base);
    for (const bond of bonds) setTorsion(coordinates, bond, (2 * rng.uniform() - 1) * Math.PI);
    if (!hasClash(coordinates, pairs)) break;
  }
  return coordinates;
}

/** Stereo elements of the molecule: centres (with three reference neighbours) and double bonds (with a dihedral). */
export interface StereoElements {
  readonly centres: readonly [number, number, number, number][];
  readonly doubleBonds: readonly [number, number, number, number][];
}

/**
 * OpenChemLib's stereocentres and stereo double bonds. Minimisation from a clashing start can push an atom
 * through a plane and invert a centre or flip E/Z; such a conformer belongs to another stereoisomer.
 */
export function stereoElements(molecule: OclMolecule, topology: MoleculeTopology): StereoElements {
  const OCL = openChemLib();
  molecule.ensureHelperArrays(OCL.Molecule.cHelperParities);
  const centres: [number, number, number, number][] = [];
  for (let atom = 0; atom < topology.atomCount; atom++) {
    const around = topology.neighbours[atom];
    if (molecule.getAtomParity(atom) !== OCL.Molecule.cAtomParityNone && around.length >= 3)
      centres.push([atom, around[0], around[1], around[2]]);
  }
  const doubleBonds: [number, number, number, number][] = [];
  topology.bonds.forEach((bond, index) => {
    if (bond.order !== 2 || bond.inRing || molecule.getBondParity(index) === OCL.Molecule.cBondParityNone)
      return;
    const a = topology.neighbours[bond.from].find((other) => other !== bond.to);
    const d = topology.neighbours[bond.to].find((other) => other !== bond.from);
    if (a !== undefined && d !== undefined) doubleBonds.push([a, bond.from, bond.to, d]);
  });
  return { centres, doubleBonds };
}

/** Signs of the chiral volumes and of cos(dihedral) across stereo double bonds. */
export function stereoSignature(coordinates: Float64Array, elements: StereoElements): string {
  const signs: string[] = elements.centres.map(([centre, a, b, c]) => {
    const v = [a, b, c].map((atom) =>
      [0, 1, 2].map((k) => coordinates[3 * atom + k] - coordinates[3 * centre + k]),
    );
    const volume =
      v[0][0] * (v[1][1] * v[2][2] - v[1][2] * v[2][1]) -
      v[0][1] * (v[1][0] * v[2][2] - v[1][2] * v[2][0]) +
      v[0][2] * (v[1][0] * v[2][1] - v[1][1] * v[2][0]);
    return volume > 0 ? '+' : '-';
  });
  for (const dihedral of elements.doubleBonds)
    signs.push(Math.cos(dihedralAngle(coordinates, dihedral)) > 0 ? 'Z' : 'E');
  return signs.join('');
}

function isFiniteResult(result: MinimisedConformer): boolean {
  return Number.isFinite(result.energy) && result.coordinates.every(Number.isFinite);
}

/** Up to `count` OpenChemLib conformers (fewer when its torsion strategy runs out of new torsion sets). */
export function embedConformers(smiles: string, count: number, seed: number): OclMolecule[] {
  const OCL = openChemLib();
  const molecule = moleculeFromSmiles(smiles);
  const generator = new OCL.ConformerGenerator(seed);
  if (!generator.initializeConformers(molecule, {}))
    throw new Error(`OpenChemLib cannot generate conformers for ${smiles}`);
  const conformers: OclMolecule[] = [];
  while (conformers.length < count) {
    const next = generator.getNextConformerAsMolecule();
    if (!next) break;
    conformers.push(next);
  }
  if (conformers.length === 0) throw new Error(`OpenChemLib produced no conformer for ${smiles}`);
  return conformers;
}

export async function generateEnsemble(smiles: string, options: EnsembleOptions): Promise<Ensemble> {
  const started = performance.now();
  const n = options.n;
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`generateEnsemble: n must be a positive integer, got ${n}`);
  const seed = options.seed ?? 42;
  const rmsdThreshold = options.rmsdThreshold ?? 0.5;
  const maxCandidates = options.maxCandidates ?? 3 * n + 10;
  const rng = createRng(seed);

  const embedded = embedConformers(smiles, n, seed);
  const molecule = embedded[0];
  // RDKit's aromaticity, so that the rotatable bonds are RDKit's strict ones (aromaticity.ts).
  const topology = await withRdkitAromaticity(topologyFromOcl(molecule));
  const rotatableBonds = findRotatableBonds(topology);
  // Random starts also turn O–H, N–H and S–H (not rotatable bonds by RDKit's count; torsions.ts).
  const randomisedTorsions = [...rotatableBonds, ...findPolarHydrogenRotors(topology)];
  const pairs = nonBondedPairs(topology);
  const evaluator = new MmffEvaluator(molecule, options.variant ?? 'MMFF94');
  const symmetric = new SymmetricRmsd(heavyAtomGraph(topology));
  const baseGeometries = embedded.map(coordinatesFromOcl);
  const stereo = stereoElements(molecule.getCompactCopy(), topology);
  const baseSignatures = baseGeometries.map((coordinates) => stereoSignature(coordinates, stereo));

  const kept: { conformer: Conformer; centred: CentredPoints }[] = [];
  let candidates = 0;
  let failedMinimisations = 0;
  let stereoChanges = 0;
  while (kept.length < n && candidates < maxCandidates) {
    const fromEmbedding = candidates < baseGeometries.length;
    // Rigid molecules have nothing to randomise: once the embeddings are used up, more candidates add nothing.
    if (!fromEmbedding && randomisedTorsions.length === 0) break;
    const baseIndex = fromEmbedding ? candidates : rng.int(baseGeometries.length);
    const start = fromEmbedding
      ? baseGeometries[baseIndex]
      : randomTorsionCandidate(baseGeometries[baseIndex], randomisedTorsions, pairs, rng);
    candidates++;
    const minimiseOptions = { maxIterations: options.maxMinimisationIterations ?? 2000 };
    let minimised = evaluator.minimise(start, minimiseOptions);
    if (!isFiniteResult(minimised)) {
      // OpenChemLib's MMFF94 returns NaN for some starts with an exactly linear group (a nitrile turned into
      // a particular orientation, measured: every such case recovered); 0.02 Å of noise moves it off that.
      minimised = evaluator.minimise(
        start.map((value) => value + 0.02 * rng.normal()),
        minimiseOptions,
      );
    }
    // A minimisation that still broke down, or that changed a stereocentre or a double bond's E/Z, yields no
    // conformer.
    if (!isFiniteResult(minimised)) {
      failedMinimisations++;
      await options.onCandidate?.(candidates, kept.length);
      continue;
    }
    if (stereoSignature(minimised.coordinates, stereo) !== baseSignatures[baseIndex]) {
      stereoChanges++;
      await options.onCandidate?.(candidates, kept.length);
      continue;
    }
    const conformer: Conformer = {
      coordinates: minimised.coordinates,
      energy: minimised.energy,
      converged: minimised.converged,
      origin: fromEmbedding ? 'embedded' : 'random-torsions',
    };
    const centred = symmetric.centreFirst(conformer.coordinates);
    const duplicate = kept.findIndex((other) => symmetric.rmsd(centred, other.centred) < rmsdThreshold);
    if (duplicate < 0) kept.push({ conformer, centred });
    else if (conformer.energy < kept[duplicate].conformer.energy) kept[duplicate] = { conformer, centred };
    await options.onCandidate?.(candidates, kept.length);
  }
  const conformers = kept.map((entry) => entry.conformer).sort((a, b) => a.energy - b.energy);
  return {
    smiles,
    molecule,
    topology,
    rotatableBonds,
    conformers,
    candidates,
    failedMinimisations,
    stereoChanges,
    seconds: (performance.now() - started) / 1000,
  };
}
