/**
 * Fragments of molecules and the fragment-assembly MDP of molecular preference queries (DESIGN.md §6:
 * "a state is a partial object, an action appends one element from a vocabulary (for molecules:
 * fragments)").
 *
 * ## Cleavage: a compact, BRICS-like rule set
 * After BRICS (Degen, Wegscheid-Gerlach, Zaliani & Rarey, "On the art of compiling and using 'drug-like'
 * chemical fragment spaces", ChemMedChem 3, 1503 (2008)): bonds are cut only in chemical environments that
 * synthesis can form again, and each cut end remembers its environment so that joining only re-forms such
 * bonds. This is a smaller rule set written for this project, not BRICS's 16 environments:
 *
 * Every atom at a possible cut gets one of nine classes (the first SMARTS it matches; ATTACHMENT_CLASSES):
 *   1 acyl C        [C;!R;$(C=O)]                          carbonyl C of amides, esters, ketones, acids
 *   2 amine N       [N;!R;!$(N=*);!$(N#*);!$(N-[#7,#8])]   acyclic amine / amide / sulfonamide N, also N⁺
 *   3 ether O       [O;!R;X2;+0;!$(O-[#7,#8])]             acyclic O of ethers and esters
 *   4 sp3 C         [C;!R;X4]                              acyclic saturated C
 *   5 aromatic C    [c]
 *   6 ring C        [C;R]                                  aliphatic ring C
 *   7 ring N        [#7;R]                                 aromatic or aliphatic ring N
 *   8 sulfonyl S    [S;!R;$(S(=O)=O)]
 *   9 thioether S   [S;!R;X2;+0]
 * A bond is cut when (a) it is a single bond in no ring (a bridge of the molecular graph: ring atoms stay
 * together, rings are never opened), (b) each of its two atoms has at least one other heavy neighbour
 * (methyl, OH, NH2, halogens, =O… stay on their fragment, as BRICS's "not D1"), and (c) the classes of its
 * atoms form one of these pairs (CUTTABLE_PAIRS):
 *   between rings     5–5, 5–6, 5–7, 6–6, 6–7                  (biaryls, N-aryl piperazines, …)
 *   ring to chain     5 or 6 with 1, 2, 3, 4, 8, 9; 7 with 1, 4, 8
 *   within chains     1–2 amide, 1–3 ester, 2–4 amine, 3–4 ether, 4–9 thioether, 2–8 sulfonamide
 * As in BRICS, no C–C bond between two chain atoms is cut, nor a bond between two heteroatoms other than
 * S(=O)(=O)–N, and a linker atom cut on both sides becomes a fragment of its own ([2*]N[2*], [3*]O[3*]).
 * Each cut leaves a dummy atom on either side whose isotope is the class of the atom it hangs on: an amide
 * CCCC(=O)N1CCCCC1 gives [1*]C(=O)CCC (acid part) and [7*]N1CCCCC1 (amine part), biphenyl two [5*]c1ccccc1.
 * Two attachment points may be joined when their labels form a cuttable pair (label 0, a bare *, joins
 * anything), so that joining re-forms only bonds this rule set would cut.
 *
 * Stereochemistry is left out: fragments and assembled molecules carry no chirality or E/Z marks. Keeping
 * it would need parity bookkeeping through every cut and join (MinimalLib has no molzip), and the
 * preference features φ (server/molecules/features.ts: descriptors and a Morgan fingerprint without
 * chirality) do not see it.
 *
 * ## Joining
 * A join replaces two dummy atoms (each with one bond, to different atoms) by one bond of the same order
 * between their neighbours; filling an attachment point with H removes the dummy and adds the hydrogens to
 * its neighbour. Neither changes any atom's valence, so joins of single-bonded attachment points are always
 * chemically valid; RDKit still sanitises every result (from its JSON form) and gives the canonical SMILES.
 *
 * ## The assembly MDP (fragmentAssemblyMdp)
 * server/engines/pbrl/mdp.ts wants a finite-horizon MDP with V actions per state and per-step feature
 * increments φ_h(s, a) whose sum along a path is the object's φ. Descriptors and fingerprints are not
 * additive over fragments, so the honest nearest design (mdp.ts's "features only for complete objects")
 * is used: φ(final molecule) on the last step, zeros before; the Fisher information of design.ts is then
 * §6's formula verbatim. For that the state must determine the molecule built so far: states are the
 * distinct partial molecules (canonical SMILES with labelled open attachment points), merged when two paths
 * build the same one, and their number per step is capped (maxStates; an error, not a silent truncation,
 * when it is exceeded — it grows like V^h).
 *   Step 0: V starting fragments (seeded draw, weighted by frequency, among library fragments with a ring;
 *           all fragments if fewer than V have one).
 *   Step h ≥ 1: action 0 is "stop": every open attachment point gets H. Actions 1..V−1 attach a fragment at
 *           the first open attachment point (first in the state's canonical SMILES), by the fragment's first
 *           compatible attachment point; the V−1 fragments are a seeded draw (weighted by frequency) from
 *           the library fragments compatible with that point's label, one draw per step and label. Where
 *           fewer fragments are compatible, the remaining actions repeat "stop". A complete molecule (no
 *           open points) is absorbing: every action leaves it as it is.
 *   After step H−1, any attachment point still open gets H: that is the final molecule x, φ_{H−1}(s, a) =
 *           φ(x).
 */
import { validateMdp, type Path, type SequenceMdp } from '../engines/pbrl/mdp';
import { createRng } from '../engines/random';
import { rawMoleculeFeatures } from './features';
import { MoleculeContext } from './properties';
import {
  MoleculeParseError,
  parseSmilesToMol,
  sharedSmartsQuery,
  withMolecule,
  type RDKitModule,
  type RDKitMol,
} from './rdkit';

// ------------------------------------------------------------------------------------------- rule set

/** The classes of atoms at a cut (header), in matching order; the label is the dummy atom's isotope. */
export const ATTACHMENT_CLASSES: readonly { label: number; name: string; smarts: string }[] = [
  { label: 1, name: 'acyl C', smarts: '[C;!R;$(C=O)]' },
  { label: 2, name: 'amine N', smarts: '[N;!R;!$(N=*);!$(N#*);!$(N-[#7,#8])]' },
  { label: 3, name: 'ether O', smarts: '[O;!R;X2;+0;!$(O-[#7,#8])]' },
  { label: 4, name: 'sp3 C', smarts: '[C;!R;X4]' },
  { label: 5, name: 'aromatic C', smarts: '[c]' },
  { label: 6, name: 'ring C', smarts: '[C;R]' },
  { label: 7, name: 'ring N', smarts: '[#7;R]' },
  { label: 8, name: 'sulfonyl S', smarts: '[S;!R;$(S(=O)=O)]' },
  { label: 9, name: 'thioether S', smarts: '[S;!R;X2;+0]' },
];

/** The pairs of classes whose acyclic single bond is cut, and which attachment points may join (header). */
export const CUTTABLE_PAIRS: readonly (readonly [number, number])[] = [
  // Between rings.
  [5, 5],
  [5, 6],
  [5, 7],
  [6, 6],
  [6, 7],
  // Ring to chain.
  ...[5, 6].flatMap((ring) => [1, 2, 3, 4, 8, 9].map((chain) => [ring, chain] as const)),
  [7, 1],
  [7, 4],
  [7, 8],
  // Within chains: amide, ester, amine, ether, thioether, sulfonamide.
  [1, 2],
  [1, 3],
  [2, 4],
  [3, 4],
  [4, 9],
  [2, 8],
];

/** One number per unordered pair of non-negative integers below 10⁶ (class labels, atom indices). */
const pairKey = (a: number, b: number) => (a < b ? a * 1_000_000 + b : b * 1_000_000 + a);
const cuttable = new Set(CUTTABLE_PAIRS.map(([a, b]) => pairKey(a, b)));

/** How attachment points may be joined: by the rule set's labels (default) or any to any. */
export type Compatibility = 'labels' | 'any';

/** Whether attachment points labelled a and b may be joined (label 0, an unlabelled *, joins anything). */
export function attachmentsCompatible(
  a: number,
  b: number,
  compatibility: Compatibility = 'labels',
): boolean {
  return compatibility === 'any' || a === 0 || b === 0 || cuttable.has(pairKey(a, b));
}

/**
 * In the linked form of a fragmentation (Fragmentation.linked) an attachment point's isotope is
 * LINK_STRIDE·k + label for the k-th cut (k ≥ 1); assembleMolecule joins the two points of each k.
 */
export const LINK_STRIDE = 100;

/** The attachment class of a sulfonyl S (ATTACHMENT_CLASSES). */
const SULFONYL_LABEL = 8;

/** A join that cannot be made (no compatible attachment points, a malformed attachment point, …). */
export class FragmentJoinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FragmentJoinError';
  }
}

// --------------------------------------------------------------------------- molecular graphs (pieces)

/** An atom as RDKit's JSON holds it (Kekulé form, hydrogens implicit), stereochemistry left out. */
interface PieceAtom {
  z: number;
  impHs: number;
  chg: number;
  nRad: number;
  isotope: number;
}

interface PieceBond {
  a: number;
  b: number;
  /** Kekulé bond order. */
  order: number;
}

/** A molecular graph, possibly with dummy atoms (z = 0) as attachment points. */
interface Piece {
  atoms: PieceAtom[];
  bonds: PieceBond[];
}

interface RdkitJson {
  defaults: { atom: PieceAtom; bond: { bo: number } };
  molecules: { atoms: Partial<PieceAtom>[]; bonds?: { atoms: [number, number]; bo?: number }[] }[];
}

function pieceOfMol(mol: RDKitMol): Piece {
  const json = JSON.parse(mol.get_json()) as RdkitJson;
  const { atom: atomDefaults, bond: bondDefaults } = json.defaults;
  const molecule = json.molecules[0];
  return {
    atoms: molecule.atoms.map((atom) => ({
      z: atom.z ?? atomDefaults.z,
      impHs: atom.impHs ?? atomDefaults.impHs,
      chg: atom.chg ?? atomDefaults.chg,
      nRad: atom.nRad ?? atomDefaults.nRad ?? 0,
      isotope: atom.isotope ?? atomDefaults.isotope,
    })),
    bonds: (molecule.bonds ?? []).map((bond) => ({
      a: bond.atoms[0],
      b: bond.atoms[1],
      order: bond.bo ?? bondDefaults.bo,
    })),
  };
}

/** The piece as an RDKit molecule (sanitised from JSON); null if RDKit rejects it. Caller frees it. */
function molOfPiece(rdkit: RDKitModule, piece: Piece): RDKitMol | null {
  if (piece.atoms.length === 0) return null;
  const json = {
    commonchem: { version: 10 },
    defaults: {
      atom: { z: 6, impHs: 0, chg: 0, nRad: 0, isotope: 0, stereo: 'unspecified' },
      bond: { bo: 1, stereo: 'unspecified' },
    },
    molecules: [
      {
        atoms: piece.atoms.map(({ z, impHs, chg, nRad, isotope }) => ({ z, impHs, chg, nRad, isotope })),
        bonds: piece.bonds.map(({ a, b, order }) => ({ atoms: [a, b], bo: order })),
      },
    ],
  };
  let mol: RDKitMol | null;
  try {
    mol = rdkit.get_mol(JSON.stringify(json));
  } catch {
    return null;
  }
  if (mol && !mol.is_valid()) {
    mol.delete();
    return null;
  }
  return mol;
}

/** RDKit canonical SMILES of a piece; FragmentJoinError if RDKit cannot sanitise it. */
function pieceSmiles(rdkit: RDKitModule, piece: Piece): string {
  const mol = molOfPiece(rdkit, piece);
  if (!mol) throw new FragmentJoinError('RDKit rejects the joined molecule (valence or aromaticity)');
  try {
    return mol.get_smiles();
  } finally {
    mol.delete();
  }
}

/** Parses a SMILES into a piece (MoleculeParseError for bad input); dummies keep their SMILES order. */
function parsePiece(rdkit: RDKitModule, smiles: string): Piece {
  return withMolecule(rdkit, smiles, pieceOfMol);
}

/** Indices of the dummy atoms (attachment points), in atom order (SMILES order for a parsed SMILES). */
function dummiesOf(piece: Piece): number[] {
  const out: number[] = [];
  piece.atoms.forEach((atom, index) => {
    if (atom.z === 0) out.push(index);
  });
  return out;
}

function neighbourLists(piece: Piece): { atom: number; bond: number }[][] {
  const out: { atom: number; bond: number }[][] = piece.atoms.map(() => []);
  piece.bonds.forEach(({ a, b }, bond) => {
    out[a].push({ atom: b, bond });
    out[b].push({ atom: a, bond });
  });
  return out;
}

/** Connected components, each a sorted list of atom indices (in order of their smallest atom). */
function components(piece: Piece): number[][] {
  const parent = piece.atoms.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  for (const { a, b } of piece.bonds) parent[find(a)] = find(b);
  const groups = new Map<number, number[]>();
  piece.atoms.forEach((_, i) => {
    const root = find(i);
    const group = groups.get(root);
    if (group) group.push(i);
    else groups.set(root, [i]);
  });
  return [...groups.values()];
}

/** The sub-piece on the given atoms (sorted), indices renumbered in their order. */
function subPiece(piece: Piece, atoms: number[]): Piece {
  const index = new Map(atoms.map((atom, i) => [atom, i]));
  return {
    atoms: atoms.map((atom) => ({ ...piece.atoms[atom] })),
    bonds: piece.bonds
      .filter(({ a, b }) => index.has(a) && index.has(b))
      .map(({ a, b, order }) => ({ a: index.get(a)!, b: index.get(b)!, order })),
  };
}

/** Two pieces side by side (the second's atoms after the first's). */
function concatPieces(first: Piece, second: Piece): Piece {
  const offset = first.atoms.length;
  return {
    atoms: [...first.atoms, ...second.atoms].map((atom) => ({ ...atom })),
    bonds: [
      ...first.bonds.map((bond) => ({ ...bond })),
      ...second.bonds.map(({ a, b, order }) => ({ a: a + offset, b: b + offset, order })),
    ],
  };
}

/** The atom a dummy hangs on and the order of its bond; FragmentJoinError when it is not one bond. */
function attachmentOf(piece: Piece, dummy: number): { atom: number; order: number } {
  const bonds = piece.bonds.filter(({ a, b }) => a === dummy || b === dummy);
  if (piece.atoms[dummy]?.z !== 0) throw new FragmentJoinError(`atom ${dummy} is not an attachment point`);
  if (bonds.length !== 1) {
    throw new FragmentJoinError(
      `an attachment point must have exactly one bond, this one has ${bonds.length}`,
    );
  }
  const { a, b, order } = bonds[0];
  const atom = a === dummy ? b : a;
  if (piece.atoms[atom].z === 0)
    throw new FragmentJoinError('two attachment points are bonded to each other');
  return { atom, order };
}

/**
 * Joins pairs of dummies of one piece (header, "Joining") and fills the dummies in `cap` with hydrogens;
 * other dummies stay. Compatibility of labels is the caller's business.
 */
function joinAndCap(
  piece: Piece,
  pairs: readonly (readonly [number, number])[],
  cap: Iterable<number>,
): Piece {
  const removed = new Set<number>();
  const hydrogens = new Map<number, number>();
  const added: PieceBond[] = [];
  const bonded = new Set(piece.bonds.map(({ a, b }) => pairKey(a, b)));
  for (const [first, second] of pairs) {
    if (first === second || removed.has(first) || removed.has(second)) {
      throw new FragmentJoinError('an attachment point can take part in one join only');
    }
    const one = attachmentOf(piece, first);
    const other = attachmentOf(piece, second);
    if (one.order !== other.order) {
      throw new FragmentJoinError(
        `attachment points with bonds of order ${one.order} and ${other.order} cannot be joined`,
      );
    }
    if (one.atom === other.atom) throw new FragmentJoinError('both attachment points sit on the same atom');
    if (bonded.has(pairKey(one.atom, other.atom))) {
      throw new FragmentJoinError('the join would bond two atoms that are bonded already');
    }
    bonded.add(pairKey(one.atom, other.atom));
    removed.add(first).add(second);
    added.push({ a: one.atom, b: other.atom, order: one.order });
  }
  // An open sulfonyl point becomes a primary sulfonamide (–SO₂NH₂, common in drugs), not the odd –SO₂H.
  const amineCaps = new Set<number>();
  for (const dummy of cap) {
    if (removed.has(dummy)) continue;
    const { atom, order } = attachmentOf(piece, dummy);
    if (piece.atoms[dummy].isotope % LINK_STRIDE === SULFONYL_LABEL && order === 1) {
      amineCaps.add(dummy);
      continue;
    }
    removed.add(dummy);
    hydrogens.set(atom, (hydrogens.get(atom) ?? 0) + order);
  }
  const index = new Int32Array(piece.atoms.length).fill(-1);
  const atoms: PieceAtom[] = [];
  piece.atoms.forEach((atom, i) => {
    if (removed.has(i)) return;
    index[i] = atoms.length;
    atoms.push(
      amineCaps.has(i)
        ? { z: 7, impHs: 2, chg: 0, nRad: 0, isotope: 0 }
        : { ...atom, impHs: atom.impHs + (hydrogens.get(i) ?? 0) },
    );
  });
  const bonds = [...piece.bonds, ...added]
    .filter(({ a, b }) => !removed.has(a) && !removed.has(b))
    .map(({ a, b, order }) => ({ a: index[a], b: index[b], order }));
  return { atoms, bonds };
}

/** Whether the bond is a bridge (in no ring): its ends are disconnected once it is removed. */
function isBridge(neighbours: { atom: number; bond: number }[][], bond: number, a: number, b: number) {
  const seen = new Uint8Array(neighbours.length);
  const stack = [a];
  seen[a] = 1;
  while (stack.length) {
    const atom = stack.pop()!;
    for (const next of neighbours[atom]) {
      if (next.bond === bond || seen[next.atom]) continue;
      if (next.atom === b) return false;
      seen[next.atom] = 1;
      stack.push(next.atom);
    }
  }
  return true;
}

/** Cycle rank E − V + C of a piece: its number of rings (dummies change nothing). */
function ringCount(piece: Piece): number {
  return piece.bonds.length - piece.atoms.length + components(piece).length;
}

const heavyAtomCount = (piece: Piece) => piece.atoms.filter((atom) => atom.z > 1).length;

// ------------------------------------------------------------------------------------------ cleavage

export interface Fragmentation {
  /** The molecule's RDKit canonical SMILES, stereochemistry left out (header). */
  smiles: string;
  /** Canonical SMILES of its pieces, each attachment point [n*] labelled by its atom's class (header). */
  fragments: string[];
  /**
   * The same pieces, in the same order, with each attachment point's isotope LINK_STRIDE·k + label for
   * the k-th cut: assembleMolecule(linked) gives `smiles` back.
   */
  linked: string[];
  /** Bonds cut. */
  cuts: number;
}

/**
 * Cuts one molecule by the rule set of the header. Throws MoleculeParseError for an invalid SMILES and
 * FragmentJoinError for an input that already has attachment points (dummy atoms).
 */
export function fragmentMolecule(rdkit: RDKitModule, smiles: string): Fragmentation {
  const mol = parseSmilesToMol(rdkit, smiles);
  let piece: Piece;
  const classOf: number[] = [];
  try {
    piece = pieceOfMol(mol);
    for (const { label, smarts } of ATTACHMENT_CLASSES) {
      for (const [atom] of sharedSmartsQuery(rdkit, smarts).matchedAtoms(mol)) classOf[atom] ??= label;
    }
  } finally {
    mol.delete();
  }
  if (piece.atoms.some((atom) => atom.z === 0)) {
    throw new FragmentJoinError(`${smiles} already has attachment points (dummy atoms); it cannot be cut`);
  }
  const neighbours = neighbourLists(piece);
  const heavyDegree = neighbours.map((list) => list.filter(({ atom }) => piece.atoms[atom].z > 1).length);
  const cut = piece.bonds.map(({ a, b, order }, bond) => {
    const classA = classOf[a] ?? 0;
    const classB = classOf[b] ?? 0;
    return (
      order === 1 &&
      classA > 0 &&
      classB > 0 &&
      cuttable.has(pairKey(classA, classB)) &&
      heavyDegree[a] >= 2 &&
      heavyDegree[b] >= 2 &&
      isBridge(neighbours, bond, a, b)
    );
  });

  // Each cut bond a–b becomes a–[*] and b–[*], the dummies labelled LINK_STRIDE·k + class.
  const atoms = piece.atoms.map((atom) => ({ ...atom }));
  const bonds: PieceBond[] = [];
  let cuts = 0;
  piece.bonds.forEach((bond, index) => {
    if (!cut[index]) {
      bonds.push(bond);
      return;
    }
    cuts++;
    for (const end of [bond.a, bond.b]) {
      atoms.push({ z: 0, impHs: 0, chg: 0, nRad: 0, isotope: LINK_STRIDE * cuts + (classOf[end] ?? 0) });
      bonds.push({ a: end, b: atoms.length - 1, order: 1 });
    }
  });
  const cutPiece: Piece = { atoms, bonds };
  const linkedPieces = components(cutPiece).map((group) => subPiece(cutPiece, group));
  const labelled = (one: Piece): Piece => ({
    atoms: one.atoms.map((atom) => (atom.z === 0 ? { ...atom, isotope: atom.isotope % LINK_STRIDE } : atom)),
    bonds: one.bonds,
  });
  return {
    smiles: pieceSmiles(rdkit, piece),
    fragments: linkedPieces.map((one) => pieceSmiles(rdkit, labelled(one))),
    linked: linkedPieces.map((one) => pieceSmiles(rdkit, one)),
    cuts,
  };
}

/** A molecule's canonical SMILES with stereochemistry left out, as fragmentMolecule writes it. */
export function canonicalWithoutStereo(rdkit: RDKitModule, smiles: string): string {
  return pieceSmiles(rdkit, parsePiece(rdkit, smiles));
}

/** The attachment-point labels of a fragment SMILES, in SMILES order. */
export function attachmentLabels(rdkit: RDKitModule, smiles: string): number[] {
  const piece = parsePiece(rdkit, smiles);
  return dummiesOf(piece).map((dummy) => piece.atoms[dummy].isotope);
}

// ------------------------------------------------------------------------------------------- library

export interface LibraryFragment {
  /** Canonical SMILES with labelled attachment points. */
  smiles: string;
  /** Occurrences over the source molecules. */
  count: number;
  /** Source molecules it occurs in. */
  molecules: number;
  /** Attachment points. */
  attachments: number;
  /** Their labels, in SMILES order. */
  labels: number[];
  heavyAtoms: number;
  rings: number;
  /** Two or more attachment points: a core (scaffold or linker); one: a cap. */
  kind: 'core' | 'cap';
}

export interface FragmentLibraryOptions {
  /** Keep the N most frequent fragments (ties by SMILES). Default 200. */
  maxFragments?: number;
  /** Drop fragments seen fewer times. Default 1. */
  minCount?: number;
  /** Drop fragments with more heavy atoms (e.g. large uncut ring systems). Default: no limit. */
  maxHeavyAtoms?: number;
}

export interface FragmentLibrary {
  /** The kept fragments, most frequent first. */
  fragments: LibraryFragment[];
  cores: LibraryFragment[];
  caps: LibraryFragment[];
  /** Molecules cut (valid inputs). */
  sourceMolecules: number;
  /** Distinct fragments with attachment points before minCount, maxHeavyAtoms and maxFragments. */
  distinctFragments: number;
  /** Valid molecules that no rule cuts (they yield no fragment with an attachment point). */
  uncut: number;
  /** Inputs that could not be cut, with the reason. */
  skipped: { index: number; smiles: string; reason: string }[];
}

/**
 * The fragment library of a list of molecules (header, "Cleavage"): every molecule cut, the pieces with
 * attachment points deduplicated by canonical SMILES and counted, the most frequent kept.
 */
export function fragmentLibrary(
  rdkit: RDKitModule,
  smiles: readonly string[],
  options: FragmentLibraryOptions = {},
): FragmentLibrary {
  const maxFragments = options.maxFragments ?? 200;
  const minCount = options.minCount ?? 1;
  const maxHeavyAtoms = options.maxHeavyAtoms ?? Number.POSITIVE_INFINITY;
  const counts = new Map<string, { count: number; molecules: number }>();
  const skipped: FragmentLibrary['skipped'] = [];
  let sourceMolecules = 0;
  let uncut = 0;
  smiles.forEach((input, index) => {
    let fragmentation: Fragmentation;
    try {
      fragmentation = fragmentMolecule(rdkit, input);
    } catch (error) {
      if (!(error instanceof MoleculeParseError || error instanceof FragmentJoinError)) throw error;
      skipped.push({
        index,
        smiles: input,
        reason: error instanceof MoleculeParseError ? error.reason : error.message,
      });
      return;
    }
    sourceMolecules++;
    if (fragmentation.cuts === 0) uncut++;
    const seen = new Set<string>();
    for (const fragment of fragmentation.fragments) {
      if (!fragment.includes('*')) continue;
      const entry = counts.get(fragment) ?? { count: 0, molecules: 0 };
      entry.count++;
      if (!seen.has(fragment)) entry.molecules++;
      seen.add(fragment);
      counts.set(fragment, entry);
    }
  });
  const fragments: LibraryFragment[] = [];
  const ranked = [...counts.entries()].sort(
    ([a, x], [b, y]) => y.count - x.count || (a < b ? -1 : a > b ? 1 : 0),
  );
  for (const [fragment, { count, molecules }] of ranked) {
    if (fragments.length >= maxFragments) break;
    if (count < minCount) break;
    const piece = parsePiece(rdkit, fragment);
    const heavyAtoms = heavyAtomCount(piece);
    if (heavyAtoms > maxHeavyAtoms) continue;
    const labels = dummiesOf(piece).map((dummy) => piece.atoms[dummy].isotope);
    fragments.push({
      smiles: fragment,
      count,
      molecules,
      attachments: labels.length,
      labels,
      heavyAtoms,
      rings: ringCount(piece),
      kind: labels.length >= 2 ? 'core' : 'cap',
    });
  }
  return {
    fragments,
    cores: fragments.filter((fragment) => fragment.kind === 'core'),
    caps: fragments.filter((fragment) => fragment.kind === 'cap'),
    sourceMolecules,
    distinctFragments: counts.size,
    uncut,
    skipped,
  };
}

// -------------------------------------------------------------------------------------------- joining

export interface AssembleOptions {
  /** Which attachment points may join (greedy mode). Default 'labels'. */
  compatibility?: Compatibility;
  /** Fill the attachment points left open with hydrogens. Default true; false keeps them as [n*]. */
  cap?: boolean;
}

/**
 * Joins fragments into one molecule and returns its RDKit canonical SMILES (header, "Joining").
 *   Linked mode, when some attachment point has an isotope ≥ LINK_STRIDE (Fragmentation.linked): the two
 *     points of each link number (isotope div LINK_STRIDE) are joined, whatever their order; the result
 *     must be one connected molecule.
 *   Greedy mode otherwise: the fragments are added in order, each joined to the first open attachment
 *     point of the molecule so far (oldest first) that is compatible with one of its own, by the first such
 *     point of its own.
 * Throws FragmentJoinError for an impossible join (no compatible points, a fragment without attachment
 * points after the first, a link number used other than twice, pieces left unconnected, a result RDKit
 * rejects) and MoleculeParseError for an invalid SMILES.
 */
export function assembleMolecule(
  rdkit: RDKitModule,
  fragments: readonly string[],
  options: AssembleOptions = {},
): string {
  if (fragments.length === 0) throw new FragmentJoinError('no fragments to assemble');
  const pieces = fragments.map((fragment) => parsePiece(rdkit, fragment));
  const linked = pieces.some((piece) =>
    piece.atoms.some((atom) => atom.z === 0 && atom.isotope >= LINK_STRIDE),
  );
  let molecule: Piece;
  if (linked) {
    molecule = pieces.reduce(concatPieces);
    const links = new Map<number, number[]>();
    for (const dummy of dummiesOf(molecule)) {
      const link = Math.floor(molecule.atoms[dummy].isotope / LINK_STRIDE);
      if (link === 0) continue;
      const ends = links.get(link) ?? [];
      ends.push(dummy);
      links.set(link, ends);
    }
    const pairs = [...links.entries()].map(([link, ends]) => {
      if (ends.length !== 2) {
        throw new FragmentJoinError(`link ${link} has ${ends.length} attachment points; a link needs two`);
      }
      return [ends[0], ends[1]] as const;
    });
    molecule = joinAndCap(molecule, pairs, []);
    // What is left open is labelled by its class alone.
    for (const atom of molecule.atoms) if (atom.z === 0) atom.isotope %= LINK_STRIDE;
    const parts = components(molecule).length;
    if (parts > 1) throw new FragmentJoinError(`the links leave ${parts} separate pieces`);
  } else {
    molecule = pieces[0];
    pieces.slice(1).forEach((piece, i) => {
      molecule = attachGreedily(molecule, piece, options.compatibility ?? 'labels', fragments[i + 1]);
    });
  }
  if (options.cap ?? true) molecule = joinAndCap(molecule, [], dummiesOf(molecule));
  return pieceSmiles(rdkit, molecule);
}

function attachGreedily(molecule: Piece, piece: Piece, compatibility: Compatibility, name: string): Piece {
  const own = dummiesOf(piece);
  if (own.length === 0) throw new FragmentJoinError(`fragment ${name} has no attachment point`);
  const open = dummiesOf(molecule);
  for (const point of open) {
    const label = molecule.atoms[point].isotope;
    const match = own.find((dummy) =>
      attachmentsCompatible(label, piece.atoms[dummy].isotope, compatibility),
    );
    if (match !== undefined) {
      return joinAndCap(concatPieces(molecule, piece), [[point, molecule.atoms.length + match]], []);
    }
  }
  const openLabels = open.map((point) => molecule.atoms[point].isotope);
  const ownLabels = own.map((dummy) => piece.atoms[dummy].isotope);
  throw new FragmentJoinError(
    open.length === 0
      ? `no open attachment point is left for fragment ${name}`
      : `fragment ${name} (attachment labels ${ownLabels.join(', ')}) fits no open attachment point ` +
          `(labels ${openLabels.join(', ')})`,
  );
}

// ------------------------------------------------------------------------------------------ the MDP

/** The label of an action that fills every open attachment point with H. */
export const STOP_ACTION = 'stop';

/** φ of a complete molecule, from its canonical SMILES. */
export type MoleculeFeatureFunction = (smiles: string) => ArrayLike<number>;

export interface FragmentMdpOptions {
  /** H ≥ 1: steps (step 0 picks the starting fragment). */
  horizon: number;
  /** V ≥ 2: actions per state (at steps ≥ 1: "stop" and V − 1 fragments). */
  vocab: number;
  /** φ of a final molecule (e.g. rawFeatureFunction(rdkit)). */
  features: MoleculeFeatureFunction;
  /** Seed of the vocabulary draws. Default 0. */
  seed?: number;
  /** 'sampled' (default): seeded draws weighted by frequency; 'frequency': the most frequent. */
  selection?: 'sampled' | 'frequency';
  compatibility?: Compatibility;
  /** Largest number of distinct partial molecules at one step; more is an error. Default 5000. */
  maxStates?: number;
  /**
   * z-score the features over the distinct final molecules (population deviation; a constant coordinate
   * becomes 0), as a molecule pool is (server/preferences/molecules.ts). Default false.
   */
  standardize?: boolean;
}

export interface FragmentAssemblyMdp {
  /** The MDP as server/engines/pbrl reads it. */
  mdp: SequenceMdp;
  /** states[h][s]: the partial molecule of state s at step h (canonical SMILES, '' for the start). */
  states: string[][];
  /**
   * actions[h][s·V + a]: what action a appends in state s at step h: a fragment's SMILES, STOP_ACTION,
   * or null where the molecule is already complete (nothing changes).
   */
  actions: (string | null)[][];
  /** finalMolecules[s·V + a]: the molecule (canonical SMILES) after action a in state s at the last step. */
  finalMolecules: string[];
  /** The distinct final molecules, in order of first appearance. */
  molecules: string[];
  /** Feature means and deviations when standardize was set: φ = (raw − mean) / sd. */
  normalization?: { mean: number[]; sd: number[] };
  /** Joins RDKit rejected (each treated as "stop"); 0 in practice, since joins keep valences. */
  invalidJoins: number;
  /** The complete molecule of a path. */
  molecule(path: Path): string;
  /** What each step of a path appended (see `actions`). */
  steps(path: Path): (string | null)[];
}

/** A library fragment ready to join. */
interface VocabularyEntry {
  smiles: string;
  count: number;
  rings: number;
  piece: Piece;
  labels: number[];
}

/**
 * The fragment-assembly MDP (header, "The assembly MDP") over a library, with φ of the final molecule on
 * the last step.
 */
export function fragmentAssemblyMdp(
  rdkit: RDKitModule,
  library: Pick<FragmentLibrary, 'fragments'>,
  options: FragmentMdpOptions,
): FragmentAssemblyMdp {
  const { horizon, vocab } = options;
  if (!(Number.isInteger(horizon) && horizon >= 1))
    throw new Error(`horizon must be an integer ≥ 1, got ${horizon}`);
  if (!(Number.isInteger(vocab) && vocab >= 2)) throw new Error(`vocab must be an integer ≥ 2, got ${vocab}`);
  const seed = options.seed ?? 0;
  const selection = options.selection ?? 'sampled';
  const compatibility = options.compatibility ?? 'labels';
  const maxStates = options.maxStates ?? 5000;
  const entries: VocabularyEntry[] = library.fragments
    .filter((fragment) => fragment.attachments > 0)
    .map((fragment) => {
      const piece = parsePiece(rdkit, fragment.smiles);
      return {
        smiles: fragment.smiles,
        count: fragment.count,
        rings: fragment.rings,
        piece,
        labels: dummiesOf(piece).map((dummy) => piece.atoms[dummy].isotope),
      };
    })
    .sort((x, y) => y.count - x.count || (x.smiles < y.smiles ? -1 : x.smiles > y.smiles ? 1 : 0));
  if (entries.length === 0) throw new Error('the fragment library has no fragment with an attachment point');

  const draw = (candidates: VocabularyEntry[], size: number, streamSeed: number): VocabularyEntry[] => {
    if (selection === 'frequency' || candidates.length <= size) return candidates.slice(0, size);
    // Weighted sampling without replacement (Efraimidis & Spirakis 2006): the largest u^(1/w).
    const rng = createRng(streamSeed);
    return candidates
      .map((entry, order) => ({ entry, order, key: Math.log(1 - rng.uniform()) / entry.count }))
      .sort((x, y) => y.key - x.key)
      .slice(0, size)
      .sort((x, y) => x.order - y.order)
      .map(({ entry }) => entry);
  };

  // Step 0: V starting fragments, with a ring where the library has enough; cycled if it has fewer than V.
  const withRing = entries.filter((entry) => entry.rings > 0);
  const starts = draw(withRing.length >= vocab ? withRing : entries, vocab, seed * 7919 + 1);
  const firstStep = Array.from({ length: vocab }, (_, a) => starts[a % starts.length]);

  const vocabularies = new Map<string, VocabularyEntry[]>();
  const vocabularyFor = (step: number, label: number): VocabularyEntry[] => {
    const key = `${step}/${label}`;
    let chosen = vocabularies.get(key);
    if (!chosen) {
      const compatible = entries.filter((entry) =>
        entry.labels.some((other) => attachmentsCompatible(label, other, compatibility)),
      );
      chosen = draw(compatible, vocab - 1, seed * 7919 + 1_000_003 * step + 101 * (label + 1));
      vocabularies.set(key, chosen);
    }
    return chosen;
  };

  const pieces = new Map<string, Piece>();
  const pieceOf = (key: string): Piece => {
    let piece = pieces.get(key);
    if (!piece) {
      piece = parsePiece(rdkit, key);
      pieces.set(key, piece);
    }
    return piece;
  };
  const cappedKeys = new Map<string, string>();
  const capped = (key: string): string => {
    let out = cappedKeys.get(key);
    if (out === undefined) {
      const piece = pieceOf(key);
      const open = dummiesOf(piece);
      out = open.length === 0 ? key : pieceSmiles(rdkit, joinAndCap(piece, [], open));
      cappedKeys.set(key, out);
    }
    return out;
  };
  let invalidJoins = 0;

  /** The state after action a at step h ≥ 1 in the partial molecule `key`, and the action's label. */
  const transition = (step: number, key: string, action: number): { key: string; label: string | null } => {
    const piece = pieceOf(key);
    const open = dummiesOf(piece);
    if (open.length === 0) return { key, label: null };
    const stop = { key: capped(key), label: STOP_ACTION };
    if (action === 0) return stop;
    const point = open[0];
    const entry = vocabularyFor(step, piece.atoms[point].isotope)[action - 1];
    if (!entry) return stop;
    const own = entry.labels.findIndex((other) =>
      attachmentsCompatible(piece.atoms[point].isotope, other, compatibility),
    );
    const joined = joinAndCap(
      concatPieces(piece, entry.piece),
      [[point, piece.atoms.length + dummiesOf(entry.piece)[own]]],
      [],
    );
    try {
      return { key: pieceSmiles(rdkit, joined), label: entry.smiles };
    } catch (error) {
      if (!(error instanceof FragmentJoinError)) throw error;
      invalidJoins++;
      return stop;
    }
  };

  const states: string[][] = [['']];
  const actions: (string | null)[][] = [];
  const next: Int32Array[] = [];
  const resultKeys: string[] = [];
  for (let h = 0; h < horizon; h++) {
    const current = states[h];
    const labels: (string | null)[] = new Array<string | null>(current.length * vocab);
    const outcomes: string[] = new Array<string>(current.length * vocab);
    current.forEach((key, s) => {
      for (let a = 0; a < vocab; a++) {
        const outcome =
          h === 0 ? { key: firstStep[a].smiles, label: firstStep[a].smiles } : transition(h, key, a);
        labels[s * vocab + a] = outcome.label;
        outcomes[s * vocab + a] = outcome.key;
      }
    });
    actions.push(labels);
    if (h === horizon - 1) {
      resultKeys.push(...outcomes);
      break;
    }
    const index = new Map<string, number>();
    const following: string[] = [];
    next.push(
      Int32Array.from(outcomes, (key) => {
        let s = index.get(key);
        if (s === undefined) {
          s = following.length;
          if (s >= maxStates) {
            throw new Error(
              `step ${h + 1} of the fragment MDP reaches more than ${maxStates} partial molecules; ` +
                'lower the horizon or the vocabulary, or raise maxStates',
            );
          }
          index.set(key, s);
          following.push(key);
        }
        return s;
      }),
    );
    states.push(following);
  }

  // φ of each distinct final molecule, once.
  const finalMolecules = resultKeys.map(capped);
  const molecules = [...new Set(finalMolecules)];
  const raw = new Map<string, number[]>();
  let dim = 0;
  for (const molecule of molecules) {
    const phi = Array.from(options.features(molecule));
    if (dim === 0) dim = phi.length;
    if (phi.length !== dim || dim === 0) {
      throw new Error(`features of ${molecule} have ${phi.length} coordinates, expected ${dim || '≥ 1'}`);
    }
    if (!phi.every(Number.isFinite)) throw new Error(`features of ${molecule} are not all finite`);
    raw.set(molecule, phi);
  }
  let normalization: { mean: number[]; sd: number[] } | undefined;
  if (options.standardize) {
    const rows = molecules.map((molecule) => raw.get(molecule)!);
    const mean = Array.from(
      { length: dim },
      (_, j) => rows.reduce((sum, row) => sum + row[j], 0) / rows.length,
    );
    const sd = Array.from({ length: dim }, (_, j) => {
      const deviation = Math.sqrt(rows.reduce((sum, row) => sum + (row[j] - mean[j]) ** 2, 0) / rows.length);
      return deviation > 1e-12 ? deviation : 1;
    });
    for (const row of rows) for (let j = 0; j < dim; j++) row[j] = (row[j] - mean[j]) / sd[j];
    normalization = { mean, sd };
  }

  const stateCounts = states.map((list) => list.length);
  const features = stateCounts.map((count, h) => {
    const out = new Float64Array(count * vocab * dim);
    if (h === horizon - 1)
      finalMolecules.forEach((molecule, index) => out.set(raw.get(molecule)!, index * dim));
    return out;
  });
  const mdp: SequenceMdp = { horizon, vocab, dim, stateCounts, next, features };
  validateMdp(mdp);
  return {
    mdp,
    states,
    actions,
    finalMolecules,
    molecules,
    normalization,
    invalidJoins,
    molecule: (path) => finalMolecules[path.states[horizon - 1] * vocab + path.actions[horizon - 1]],
    steps: (path) => Array.from(path.actions, (action, h) => actions[h][path.states[h] * vocab + action]),
  };
}

/** φ as preference campaigns define it (server/molecules/features.ts), raw (not z-scored), from SMILES. */
export function rawFeatureFunction(rdkit: RDKitModule): MoleculeFeatureFunction {
  return (smiles) =>
    withMolecule(rdkit, smiles, (mol) => rawMoleculeFeatures(new MoleculeContext(rdkit, mol)));
}
