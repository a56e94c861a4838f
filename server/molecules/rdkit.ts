/**
 * RDKit MinimalLib (WASM) for the platform's chemistry: loading, SMILES parsing and canonicalisation,
 * descriptors, Morgan fingerprints and Tanimoto similarity, SMARTS matching, SVG depictions, and the
 * molecular graph that the TypeScript-side algorithms (QED, SA score, SELFIES) read.
 *
 * Memory: every RDKit molecule lives on the WASM heap and must be freed with `.delete()`. Callers never see
 * a raw molecule unless they go through `withMolecule`, which frees it on every path.
 */
import { createRequire } from 'node:module';
import initRDKitModule from '@rdkit/rdkit';
import type { Log, MainModule, Mol } from '@rdkit/rdkit';

export type RDKitModule = MainModule;
export type RDKitMol = Mol;

/**
 * Longest SMILES accepted. The largest drug-like and peptide SMILES in public libraries are a few
 * hundred characters; 10k leaves room for macromolecules while bounding the parser's work per input.
 */
export const MAX_SMILES_LENGTH = 10_000;

let loading: Promise<RDKitModule> | undefined;
let loaded: RDKitModule | undefined;
let errorLog: Log | null = null;

/** Where the .wasm file is: resolved through Node so that loading does not depend on the working directory. */
function wasmLocation(): string | undefined {
  try {
    // Built, not literal: Turbopack turns a literal '….wasm' specifier into a wasm import and fails.
    const specifier = ['@rdkit/rdkit', 'RDKit_minimal.wasm'].join('/');
    return createRequire(import.meta.url).resolve(specifier);
  } catch {
    // Inside a bundle import.meta.url may not be a file URL; the library then finds its .wasm itself.
    return undefined;
  }
}

/**
 * The process's RDKit module, loaded on first use (≈ 0.5 s) and shared afterwards. A failed load is not
 * cached, so a later call tries again.
 */
export function loadRDKit(): Promise<RDKitModule> {
  loading ??= (async () => {
    const wasm = wasmLocation();
    const rdkit = await initRDKitModule(
      wasm ? { locateFile: (file: string) => (file.endsWith('.wasm') ? wasm : file) } : undefined,
    );
    // The legacy stereo perception is what the RDKit releases behind the SA-score calibration and our
    // reference values use (it decides which atoms count as possible stereocentres). Set it explicitly so
    // that a library upgrade that flips the default cannot silently change scores.
    rdkit.use_legacy_stereo_perception(true);
    // Capture RDKit's messages instead of letting them reach stderr; parse errors are read from here.
    errorLog = rdkit.set_log_capture('rdApp.*');
    loaded = rdkit;
    return rdkit;
  })().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

/** The RDKit module if it has finished loading, else undefined (for synchronous callers that can wait). */
export function loadedRDKit(): RDKitModule | undefined {
  return loaded;
}

/** A molecule that could not be read, with RDKit's reason. */
export class MoleculeParseError extends Error {
  constructor(
    readonly input: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`invalid molecule ${JSON.stringify(abbreviate(input))}: ${reason}`, options);
    this.name = 'MoleculeParseError';
  }
}

function abbreviate(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Why a string is not even worth handing to RDKit, or undefined if it may be a SMILES. */
function smilesShapeProblem(smiles: unknown): string | undefined {
  if (typeof smiles !== 'string') return `expected a SMILES string, got ${typeof smiles}`;
  if (smiles.length === 0) return 'empty SMILES';
  if (smiles.length > MAX_SMILES_LENGTH) {
    return `SMILES of ${smiles.length} characters exceeds the limit of ${MAX_SMILES_LENGTH}`;
  }
  // RDKit's get_mol also accepts molblocks and JSON; a SMILES entry point must not.
  if (/\s/.test(smiles)) return 'SMILES contains whitespace (pass the SMILES alone, without a name)';
  if (smiles.startsWith('{')) return 'not a SMILES (looks like JSON)';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(smiles)) return 'SMILES contains control characters';
  return undefined;
}

/** RDKit's captured messages, cleaned: timestamps, echoes of the input and caret lines removed. */
function capturedReason(input: string): string {
  const buffer = errorLog?.get_buffer() ?? '';
  const lines = buffer
    .split('\n')
    .map((line) => line.replace(/^\[\d\d:\d\d:\d\d\]\s*/, '').trim())
    .filter((line) => line && line !== input && !/^[~^ ]+$/.test(line))
    .filter((line) => !line.includes('check for mistakes around position'))
    .map((line) => line.replace(/^SMILES Parse Error:\s*/, '').replace(/ for input: '.*'$/, ''));
  const unique = [...new Set(lines)];
  return unique.length > 0 ? unique.join('; ') : 'RDKit could not read it';
}

/** get_mol with RDKit's reason on failure; the caller must `.delete()` the result. */
function readMolecule(rdkit: RDKitModule, text: string, details?: string): RDKitMol {
  errorLog?.clear_buffer();
  let mol: RDKitMol | null;
  try {
    mol = details ? rdkit.get_mol(text, details) : rdkit.get_mol(text);
  } catch (error) {
    // Emscripten aborts surface as exceptions; report them per molecule rather than propagate.
    const message = error instanceof Error ? error.message : String(error);
    throw new MoleculeParseError(text, `RDKit failed: ${message}`, { cause: error });
  }
  if (!mol) throw new MoleculeParseError(text, capturedReason(text));
  const valid = mol.is_valid();
  if (!valid || mol.get_num_atoms() === 0) {
    mol.delete();
    throw new MoleculeParseError(text, valid ? 'no atoms' : capturedReason(text));
  }
  return mol;
}

/**
 * Parses one SMILES; returns the molecule (the caller must `.delete()` it) or throws MoleculeParseError
 * with RDKit's reason. Never lets a bad input crash the process.
 */
export function parseSmilesToMol(rdkit: RDKitModule, smiles: string): RDKitMol {
  const problem = smilesShapeProblem(smiles);
  if (problem) throw new MoleculeParseError(String(smiles), problem);
  return readMolecule(rdkit, smiles);
}

/**
 * Parses a molblock (one SDF record up to "M  END"); the caller must `.delete()` the result. Explicit
 * hydrogens are folded into their atoms, as RDKit's SDMolSupplier does by default; stereochemistry given by
 * 3-D coordinates or wedges is kept.
 */
export function parseMolblockToMol(rdkit: RDKitModule, molblock: string): RDKitMol {
  if (!molblock.includes('M  END')) throw new MoleculeParseError(molblock, 'molblock without "M  END"');
  return readMolecule(rdkit, molblock, JSON.stringify({ removeHs: true }));
}

/** Runs `use` on the parsed molecule and frees it afterwards, whatever happens. */
export function withMolecule<T>(rdkit: RDKitModule, smiles: string, use: (mol: RDKitMol) => T): T {
  const mol = parseSmilesToMol(rdkit, smiles);
  try {
    return use(mol);
  } finally {
    mol.delete();
  }
}

export type ParsedSmiles =
  { valid: true; input: string; canonical: string } | { valid: false; input: string; error: string };

/** Validates and canonicalises one SMILES (RDKit canonical, isomeric); invalid input gets a reason. */
export function parseSmiles(rdkit: RDKitModule, smiles: string): ParsedSmiles {
  try {
    const canonical = withMolecule(rdkit, smiles, (mol) => mol.get_smiles());
    return { valid: true, input: smiles, canonical };
  } catch (error) {
    if (error instanceof MoleculeParseError)
      return { valid: false, input: String(smiles), error: error.reason };
    throw error;
  }
}

/** Canonical SMILES of a batch, one result per input in order. */
export function canonicalizeSmiles(rdkit: RDKitModule, smiles: readonly string[]): ParsedSmiles[] {
  return smiles.map((one) => parseSmiles(rdkit, one));
}

/** Kekulé form of the canonical SMILES (no aromatic lower-case atoms): the SELFIES encoder's input. */
export function kekuleSmiles(mol: RDKitMol): string {
  const copy = mol.copy();
  if (!copy) throw new Error('RDKit could not copy the molecule');
  try {
    copy.convert_to_kekule_form();
    return copy.get_smiles();
  } finally {
    copy.delete();
  }
}

/**
 * The descriptors this platform uses, under RDKit's names (MinimalLib `get_descriptors`). Values are what
 * RDKit's Python API returns for the same molecule: amw = Descriptors.MolWt, CrippenClogP = Crippen.MolLogP,
 * tpsa = rdMolDescriptors.CalcTPSA, NumHBA/NumHBD = CalcNumHBA/CalcNumHBD, NumRotatableBonds =
 * CalcNumRotatableBonds (strict definition), NumRings = CalcNumRings.
 */
export interface MolecularDescriptors {
  amw: number;
  exactmw: number;
  CrippenClogP: number;
  CrippenMR: number;
  tpsa: number;
  NumHBA: number;
  NumHBD: number;
  lipinskiHBA: number;
  lipinskiHBD: number;
  NumRotatableBonds: number;
  NumHeavyAtoms: number;
  NumHeteroatoms: number;
  NumRings: number;
  NumAromaticRings: number;
  NumAliphaticRings: number;
  NumSpiroAtoms: number;
  NumBridgeheadAtoms: number;
  NumAtomStereoCenters: number;
  FractionCSP3: number;
}

const descriptorKeys: (keyof MolecularDescriptors)[] = [
  'amw',
  'exactmw',
  'CrippenClogP',
  'CrippenMR',
  'tpsa',
  'NumHBA',
  'NumHBD',
  'lipinskiHBA',
  'lipinskiHBD',
  'NumRotatableBonds',
  'NumHeavyAtoms',
  'NumHeteroatoms',
  'NumRings',
  'NumAromaticRings',
  'NumAliphaticRings',
  'NumSpiroAtoms',
  'NumBridgeheadAtoms',
  'NumAtomStereoCenters',
  'FractionCSP3',
];

/** The molecule's descriptors; throws if RDKit leaves one out (a library change we must notice). */
export function molecularDescriptors(mol: RDKitMol): MolecularDescriptors {
  const all = JSON.parse(mol.get_descriptors()) as Record<string, number>;
  const picked = {} as MolecularDescriptors;
  for (const key of descriptorKeys) {
    const value = all[key];
    if (typeof value !== 'number') throw new Error(`RDKit returned no "${key}" descriptor`);
    picked[key] = value;
  }
  return picked;
}

export interface MorganOptions {
  /** Radius (2 ≈ ECFP4). */
  radius: number;
  /** Length of the folded bit vector. */
  nBits: number;
}

export const DEFAULT_MORGAN: MorganOptions = { radius: 2, nBits: 2048 };

/**
 * Morgan bit vector (RDKit GetMorganFingerprintAsBitVect, no chirality, bond types on), packed as bytes:
 * bit i is (bytes[i >> 3] >> (i & 7)) & 1, as MinimalLib returns it.
 */
export function morganFingerprint(mol: RDKitMol, options: MorganOptions = DEFAULT_MORGAN): Uint8Array {
  if (options.nBits % 8 !== 0 || options.nBits <= 0)
    throw new Error('nBits must be a positive multiple of 8');
  const bytes = mol.get_morgan_fp_as_uint8array(
    JSON.stringify({ radius: options.radius, nBits: options.nBits }),
  ) as Uint8Array;
  return Uint8Array.from(bytes);
}

const popcountTable = Uint8Array.from({ length: 256 }, (_, byte) => {
  let bits = 0;
  for (let b = byte; b; b >>= 1) bits += b & 1;
  return bits;
});

/** Number of set bits in a packed fingerprint. */
export function popcount(fingerprint: Uint8Array): number {
  let total = 0;
  for (const byte of fingerprint) total += popcountTable[byte];
  return total;
}

/**
 * Tanimoto (Jaccard) similarity of two bit vectors, |A∩B| / |A∪B| (Willett, Barnard & Downs 1998, as in
 * RDKit DataStructs.TanimotoSimilarity); two empty fingerprints are given similarity 0, as RDKit does.
 */
export function tanimoto(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length)
    throw new Error(`fingerprints differ in length (${a.length} vs ${b.length} bytes)`);
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    both += popcountTable[a[i] & b[i]];
    either += popcountTable[a[i] | b[i]];
  }
  return either === 0 ? 0 : both / either;
}

/** A compiled SMARTS query, kept on the WASM heap until `dispose()`. */
export interface SmartsQuery {
  readonly smarts: string;
  /** True if the molecule contains the pattern. */
  matches(mol: RDKitMol): boolean;
  /** Number of unique matches (RDKit GetSubstructMatches, uniquified). */
  countMatches(mol: RDKitMol): number;
  /** The matched atom indices of every unique match. */
  matchedAtoms(mol: RDKitMol): number[][];
  dispose(): void;
}

/** Compiles a SMARTS pattern; throws with RDKit's reason if it is not valid SMARTS. */
export function compileSmarts(rdkit: RDKitModule, smarts: string): SmartsQuery {
  if (typeof smarts !== 'string' || smarts.trim() === '') throw new Error('empty SMARTS pattern');
  if (smarts.length > MAX_SMILES_LENGTH)
    throw new Error(`SMARTS longer than ${MAX_SMILES_LENGTH} characters`);
  errorLog?.clear_buffer();
  const query = rdkit.get_qmol(smarts);
  if (!query)
    throw new Error(`invalid SMARTS ${JSON.stringify(abbreviate(smarts))}: ${capturedReason(smarts)}`);
  let disposed = false;
  const live = () => {
    if (disposed) throw new Error(`SMARTS query ${JSON.stringify(abbreviate(smarts))} used after dispose()`);
    return query;
  };
  const allMatches = (mol: RDKitMol): { atoms: number[] }[] => {
    const found = JSON.parse(mol.get_substruct_matches(live())) as
      { atoms: number[] }[] | Record<string, never>;
    return Array.isArray(found) ? found : [];
  };
  return {
    smarts,
    matches: (mol) => mol.get_substruct_match(live()) !== '{}',
    countMatches: (mol) => allMatches(mol).length,
    matchedAtoms: (mol) => allMatches(mol).map((match) => match.atoms),
    dispose: () => {
      if (!disposed) query.delete();
      disposed = true;
    },
  };
}

/** A compiled pattern shared for the life of the process (the platform's fixed SMARTS); not disposable. */
export type SharedSmartsQuery = Omit<SmartsQuery, 'dispose'>;

const sharedQueries = new WeakMap<RDKitModule, Map<string, SmartsQuery>>();

/** Compiles one of the platform's constant SMARTS once per RDKit module and keeps it. */
export function sharedSmartsQuery(rdkit: RDKitModule, smarts: string): SharedSmartsQuery {
  let cache = sharedQueries.get(rdkit);
  if (!cache) {
    cache = new Map();
    sharedQueries.set(rdkit, cache);
  }
  let query = cache.get(smarts);
  if (!query) {
    query = compileSmarts(rdkit, smarts);
    cache.set(smarts, query);
  }
  return query;
}

export interface DepictionOptions {
  width?: number;
  height?: number;
  /** Atoms matching this SMARTS are highlighted. */
  highlightSmarts?: string;
}

/** A 2-D depiction as an SVG document (RDKit's drawing code, coordinates generated on the fly). */
export function depictSvg(rdkit: RDKitModule, smiles: string, options: DepictionOptions = {}): string {
  const width = Math.round(options.width ?? 300);
  const height = Math.round(options.height ?? 200);
  if (!(width >= 16 && width <= 4096 && height >= 16 && height <= 4096)) {
    throw new Error('depiction size must be between 16 and 4096 pixels');
  }
  return withMolecule(rdkit, smiles, (mol) => {
    if (!options.highlightSmarts) return mol.get_svg(width, height);
    const query = compileSmarts(rdkit, options.highlightSmarts);
    try {
      const atoms = [...new Set(query.matchedAtoms(mol).flat())];
      return mol.get_svg_with_highlights(JSON.stringify({ width, height, atoms }));
    } finally {
      query.dispose();
    }
  });
}

/** RDKit's bond type numbers (Bond::BondType), which the Morgan algorithm hashes. */
export const BOND_TYPE = { single: 1, double: 2, triple: 3, aromatic: 12 } as const;

export interface GraphAtom {
  atomicNumber: number;
  /** Total hydrogen count (implicit + explicit), RDKit getTotalNumHs. */
  hydrogens: number;
  formalCharge: number;
  /** Mass number, 0 for natural abundance. */
  isotope: number;
  aromatic: boolean;
  /** Tetrahedral tag as RDKit stores it, relative to the atom's bond order. */
  chirality: 'cw' | 'ccw' | undefined;
}

export interface GraphBond {
  begin: number;
  end: number;
  /** RDKit bond type number: 1, 2, 3 or 12 (aromatic); others as RDKit numbers them. */
  type: number;
  /** Bond order in the Kekulé form (1, 2, 3; 0 for zero-order bonds). */
  kekuleOrder: number;
}

/** The molecular graph RDKit perceived (Hs implicit), with its ring information (SSSR). */
export interface MoleculeGraph {
  atoms: GraphAtom[];
  bonds: GraphBond[];
  /** Smallest set of smallest rings, atom indices (RDKit RingInfo.AtomRings). */
  atomRings: number[][];
  /** For each atom, the indices of its bonds, in RDKit's order. */
  atomBonds: number[][];
}

interface CommonChemJson {
  defaults: {
    atom: { z: number; impHs: number; chg: number; isotope: number };
    bond: { bo: number };
  };
  molecules: {
    atoms: { z?: number; impHs?: number; chg?: number; isotope?: number; stereo?: string }[];
    bonds?: { atoms: [number, number]; bo?: number }[];
    extensions?: {
      name: string;
      aromaticAtoms?: number[];
      aromaticBonds?: number[];
      atomRings?: number[][];
    }[];
  }[];
}

/** Reads the molecule's graph from RDKit's JSON (commonchem + RDKit extension). */
export function moleculeGraph(mol: RDKitMol): MoleculeGraph {
  const json = JSON.parse(mol.get_json()) as CommonChemJson;
  const { atom: atomDefaults, bond: bondDefaults } = json.defaults;
  const molecule = json.molecules[0];
  const extension = molecule.extensions?.find((candidate) => candidate.name === 'rdkitRepresentation');
  const aromaticAtoms = new Set(extension?.aromaticAtoms ?? []);
  const aromaticBonds = new Set(extension?.aromaticBonds ?? []);
  const atoms: GraphAtom[] = molecule.atoms.map((atom, index) => ({
    atomicNumber: atom.z ?? atomDefaults.z,
    hydrogens: atom.impHs ?? atomDefaults.impHs,
    formalCharge: atom.chg ?? atomDefaults.chg,
    isotope: atom.isotope ?? atomDefaults.isotope,
    aromatic: aromaticAtoms.has(index),
    chirality: atom.stereo === 'cw' || atom.stereo === 'ccw' ? atom.stereo : undefined,
  }));
  const atomBonds: number[][] = atoms.map(() => []);
  const bonds: GraphBond[] = (molecule.bonds ?? []).map((bond, index) => {
    const kekuleOrder = bond.bo ?? bondDefaults.bo;
    const [begin, end] = bond.atoms;
    atomBonds[begin].push(index);
    atomBonds[end].push(index);
    return { begin, end, kekuleOrder, type: aromaticBonds.has(index) ? BOND_TYPE.aromatic : kekuleOrder };
  });
  return { atoms, bonds, atomRings: extension?.atomRings ?? [], atomBonds };
}

/**
 * Cycle rank (circuit rank) E − V + C: the number of rings in a smallest set of smallest rings (Downs et
 * al., J. Chem. Inf. Comput. Sci. 29, 172 (1989)), over all connected components. Atoms flagged in
 * `removedAtoms` are left out together with their bonds.
 */
export function cycleRank(graph: MoleculeGraph, removedAtoms?: Uint8Array): number {
  const parent = graph.atoms.map((_, index) => index);
  const find = (atom: number): number => {
    while (parent[atom] !== atom) {
      parent[atom] = parent[parent[atom]];
      atom = parent[atom];
    }
    return atom;
  };
  let vertices = 0;
  for (let atom = 0; atom < graph.atoms.length; atom++) if (!removedAtoms?.[atom]) vertices++;
  let edges = 0;
  let components = vertices;
  for (const bond of graph.bonds) {
    if (removedAtoms && (removedAtoms[bond.begin] || removedAtoms[bond.end])) continue;
    edges++;
    const a = find(bond.begin);
    const b = find(bond.end);
    if (a !== b) {
      parent[a] = b;
      components--;
    }
  }
  return edges - vertices + components;
}
