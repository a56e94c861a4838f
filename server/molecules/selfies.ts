/**
 * SELFIES (SELF-referencIng Embedded Strings): Krenn, Häse, Nigam, Friederich & Aspuru-Guzik, "Self-referencing
 * embedded strings (SELFIES): a 100% robust molecular string representation", Mach. Learn.: Sci. Technol. 1,
 * 045024 (2020), in the symbol set of SELFIES 2 (Lo et al., Digital Discovery 2, 897 (2023)).
 *
 * A SELFIES is a sequence of bracketed symbols read by a small formal grammar whose states X₀…X₈ carry how
 * many more bonds the previous atom can make. Every sequence of symbols derives a molecule that respects the
 * bonding capacities below, so every string a generative model writes is a molecule. Written here from the
 * published grammar:
 *
 *  • atom [βA] in state Xᵢ: bond order μ = min(β, i, capacity(A)) to the previous atom (none in X₀); next
 *    state X_{capacity−μ}; derivation of the current chain stops when that is 0.
 *  • [βBranchL] in Xᵢ, i ≥ 2: the next L symbols give Q (index alphabet, base 16); the following Q+1 symbols
 *    derive a branch from the current atom starting in state X_{min(i−1, β)}; the chain goes on in
 *    X_{i−min(i−1, β)}. In X₀ or X₁ the symbol is skipped.
 *  • [βRingL] in Xᵢ, i ≥ 1: the next L symbols give Q; a ring bond of order min(β, i) joins the current atom
 *    to the (Q+1)-th atom before it; the chain goes on in X_{i−order}. Ring bonds are made after the whole
 *    string is derived, in order, each reduced to what both atoms still have room for.
 *  • [nop] is ignored (padding); "." starts a new fragment in X₀.
 *
 * The codec works on Kekulé SMILES: RDKit kekulises before encoding, and the decoder writes Kekulé SMILES.
 */
import type { RDKitModule } from './rdkit';
import { kekuleSmiles, withMolecule } from './rdkit';
import { atomicNumber } from './elements';
import type { BondDirection, SmilesAtom, SmilesTree } from './smilesSyntax';
import { ORGANIC_SUBSET, parseSmilesTree, SmilesSyntaxError } from './smilesSyntax';

/** Symbols standing for the digits 0–15 of branch lengths and ring distances (SELFIES 2 index alphabet). */
export const INDEX_ALPHABET = [
  '[C]',
  '[Ring1]',
  '[Ring2]',
  '[Branch1]',
  '[=Branch1]',
  '[#Branch1]',
  '[Branch2]',
  '[=Branch2]',
  '[#Branch2]',
  '[O]',
  '[N]',
  '[=N]',
  '[=C]',
  '[#C]',
  '[S]',
  '[P]',
] as const;
const INDEX_CODE = new Map<string, number>(INDEX_ALPHABET.map((symbol, index) => [symbol, index]));

/** The padding symbol; the decoder skips it. */
export const PAD_SYMBOL = '[nop]';

/**
 * Longest SELFIES decoded (symbols). Branch nesting recurses, so this bounds the stack; molecules in
 * generative libraries have well under 200 symbols.
 */
export const MAX_SELFIES_SYMBOLS = 5_000;

/**
 * How many bonds (bond orders, hydrogens excluded) an atom may make, by element and charge. Every value is at
 * most what RDKit accepts for that atom (its allowed-valence tables), so anything the decoder builds is a
 * molecule RDKit reads; the tests check each entry against RDKit. Neutral halogens are held to one bond as in
 * the SELFIES defaults.
 */
const BONDING_CAPACITY: Record<string, number> = {
  H: 1,
  'H+1': 0,
  'H-1': 0,
  He: 0,
  Ne: 0,
  Ar: 0,
  Kr: 0,
  Xe: 0,
  Rn: 0,
  Be: 2,
  B: 3,
  'B+1': 2,
  'B-1': 4,
  C: 4,
  'C+1': 3,
  'C-1': 3,
  N: 3,
  'N+1': 4,
  'N-1': 2,
  O: 2,
  'O+1': 3,
  'O-1': 1,
  F: 1,
  'F-1': 0,
  Al: 3,
  'Al-1': 4,
  Si: 4,
  'Si-1': 5,
  P: 5,
  'P+1': 4,
  'P-1': 4,
  S: 6,
  'S+1': 5,
  'S-1': 5,
  Cl: 1,
  'Cl+1': 2,
  'Cl+3': 4,
  'Cl-1': 0,
  Ga: 3,
  'Ga-1': 4,
  Ge: 4,
  'Ge-1': 5,
  As: 5,
  'As+1': 4,
  'As-1': 4,
  Se: 6,
  'Se+1': 5,
  'Se-1': 5,
  Br: 1,
  'Br+1': 2,
  'Br-1': 0,
  In: 3,
  'In-1': 4,
  Sn: 4,
  'Sn-1': 5,
  Sb: 5,
  'Sb+1': 4,
  'Sb-1': 4,
  Te: 6,
  'Te+1': 5,
  'Te-1': 5,
  I: 1,
  'I+1': 2,
  'I-1': 0,
  Cs: 1,
  'Cs+1': 0,
  Fr: 1,
  'Fr+1': 0,
  Pb: 4,
  'Pb+2': 0,
  Bi: 5,
  'Bi+1': 4,
  'Bi-1': 4,
};

/** Elements whose valence RDKit restricts: charge states not in the table above are not supported. */
const VALENCE_RESTRICTED = new Set([
  ...Object.keys(BONDING_CAPACITY).map((key) => key.replace(/[+-]\d+$/, '')),
  'Po',
  'At',
]);

/** Capacity of metals and other elements RDKit leaves unrestricted (the SELFIES default for unlisted atoms). */
const UNRESTRICTED_CAPACITY = 8;

/** Bonding capacity of an element in a charge state, or undefined if SELFIES here cannot hold it. */
export function bondingCapacity(element: string, charge: number): number | undefined {
  const key = charge === 0 ? element : `${element}${charge > 0 ? '+' : ''}${charge}`;
  const listed = BONDING_CAPACITY[key];
  if (listed !== undefined) return listed;
  if (VALENCE_RESTRICTED.has(element) || atomicNumber(element) === undefined || element === '*')
    return undefined;
  return Math.abs(charge) <= 8 ? UNRESTRICTED_CAPACITY : undefined;
}

/** The (element, charge) states with a listed capacity, for tests and alphabets. */
export function listedBondingCapacities(): { element: string; charge: number; capacity: number }[] {
  return Object.entries(BONDING_CAPACITY).map(([key, capacity]) => {
    const match = /^([A-Z][a-z]?)([+-]\d+)?$/.exec(key)!;
    return { element: match[1], charge: match[2] ? Number(match[2]) : 0, capacity };
  });
}

export class SelfiesDecodeError extends Error {
  constructor(
    readonly selfies: string,
    readonly reason: string,
  ) {
    super(`cannot decode SELFIES: ${reason}`);
    this.name = 'SelfiesDecodeError';
  }
}

/** Why a molecule has no SELFIES here; `category` groups reasons for counting. */
export class SelfiesEncodeError extends Error {
  constructor(
    readonly smiles: string,
    readonly category: 'syntax' | 'capacity' | 'charge state' | 'too long',
    readonly reason: string,
  ) {
    super(`cannot encode ${JSON.stringify(smiles)} as SELFIES: ${reason}`);
    this.name = 'SelfiesEncodeError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Symbols

interface AtomSymbol {
  kind: 'atom';
  /** Bond order requested to the previous atom. */
  order: number;
  direction?: BondDirection;
  element: string;
  bracket: boolean;
  isotope?: number;
  chirality?: '@' | '@@';
  /** Explicit hydrogens (bracket atoms). */
  hydrogens: number;
  charge: number;
  /** Bonds left for heavy atoms once the hydrogens are placed. */
  capacity: number;
}

interface BranchSymbol {
  kind: 'branch';
  order: number;
  /** Number of index symbols that follow. */
  indexLength: number;
}

interface RingSymbol {
  kind: 'ring';
  order: number;
  indexLength: number;
  /** Bond directions at the earlier and at the current atom. */
  directions: [BondDirection | undefined, BondDirection | undefined];
}

type SelfiesSymbol = AtomSymbol | BranchSymbol | RingSymbol | { kind: 'nop' } | { kind: 'dot' };

const BOND_PREFIX_ORDER: Record<string, number> = { '': 1, '=': 2, '#': 3, '/': 1, '\\': 1 };
const ATOM_SYMBOL = /^\[([=#/\\]?)(\d*)([A-Z][a-z]?)(@{0,2})((?:H\d)?)((?:[+-][1-9]\d*)?)\]$/;
const BRANCH_SYMBOL = /^\[([=#]?)Branch([123])\]$/;
const RING_SYMBOL = /^\[([=#]?)Ring([123])\]$/;
const DIRECTED_RING_SYMBOL = /^\[([-/\\])([-/\\])Ring([123])\]$/;

const symbolCache = new Map<string, SelfiesSymbol | null>();

/** What a symbol means, or null if it is not a SELFIES symbol this decoder knows. */
function readSymbol(symbol: string): SelfiesSymbol | null {
  const cached = symbolCache.get(symbol);
  if (cached !== undefined) return cached;
  const parsed = readSymbolUncached(symbol);
  if (symbolCache.size < 100_000) symbolCache.set(symbol, parsed);
  return parsed;
}

function readSymbolUncached(symbol: string): SelfiesSymbol | null {
  if (symbol === PAD_SYMBOL) return { kind: 'nop' };
  if (symbol === '.') return { kind: 'dot' };
  let match = BRANCH_SYMBOL.exec(symbol);
  if (match) return { kind: 'branch', order: BOND_PREFIX_ORDER[match[1]], indexLength: Number(match[2]) };
  match = RING_SYMBOL.exec(symbol);
  if (match) {
    return {
      kind: 'ring',
      order: BOND_PREFIX_ORDER[match[1]],
      indexLength: Number(match[2]),
      directions: [undefined, undefined],
    };
  }
  match = DIRECTED_RING_SYMBOL.exec(symbol);
  if (match) {
    if (match[1] === '-' && match[2] === '-') return null;
    const direction = (char: string) => (char === '-' ? undefined : (char as BondDirection));
    return {
      kind: 'ring',
      order: 1,
      indexLength: Number(match[3]),
      directions: [direction(match[1]), direction(match[2])],
    };
  }
  match = ATOM_SYMBOL.exec(symbol);
  if (!match) return null;
  const [, bond, isotope, element, chirality, hydrogenText, chargeText] = match;
  const body = symbol.slice(1 + bond.length, -1);
  const bracket = !ORGANIC_SUBSET.has(body);
  const hydrogens = hydrogenText ? Number(hydrogenText.slice(1)) : 0;
  const charge = chargeText ? Number(chargeText) : 0;
  const capacity = bondingCapacity(element, charge);
  if (capacity === undefined || capacity - hydrogens < 0) return null;
  return {
    kind: 'atom',
    order: BOND_PREFIX_ORDER[bond],
    direction: bond === '/' || bond === '\\' ? bond : undefined,
    element,
    bracket,
    isotope: isotope ? Number(isotope) : undefined,
    chirality: chirality === '@' || chirality === '@@' ? chirality : undefined,
    hydrogens,
    charge,
    capacity: capacity - hydrogens,
  };
}

/** Splits a SELFIES into its symbols ("[C][=O].[Na+1]" → ["[C]", "[=O]", ".", "[Na+1]"]). */
export function splitSelfies(selfies: string): string[] {
  const symbols: string[] = [];
  let position = 0;
  while (position < selfies.length) {
    if (selfies[position] === '.') {
      symbols.push('.');
      position++;
      continue;
    }
    if (selfies[position] !== '[') {
      throw new SelfiesDecodeError(selfies, `expected "[" or "." at position ${position}`);
    }
    const end = selfies.indexOf(']', position);
    if (end < 0) throw new SelfiesDecodeError(selfies, `unclosed "[" at position ${position}`);
    symbols.push(selfies.slice(position, end + 1));
    position = end + 1;
  }
  return symbols;
}

/** Q from index symbols: base-16 number with digits idx(s) (unknown symbols count 0). */
function indexFromSymbols(symbols: (string | undefined)[]): number {
  let index = 0;
  for (const symbol of symbols)
    index = index * 16 + ((symbol === undefined ? 0 : INDEX_CODE.get(symbol)) ?? 0);
  return index;
}

/** The index symbols writing Q with exactly `length` digits. */
function symbolsForIndex(index: number, length: number): string[] {
  const symbols: string[] = [];
  for (let digit = length - 1; digit >= 0; digit--) {
    symbols.push(INDEX_ALPHABET[Math.floor(index / 16 ** digit) % 16]);
  }
  return symbols;
}

// ---------------------------------------------------------------------------------------------------------
// Decoder

interface DerivedAtom {
  symbol: AtomSymbol;
  parent: number | null;
  children: number[];
  /** Ring bonds at this atom in the order they were made. */
  ringBonds: number[];
  /** Sum of the orders of the bonds made so far. */
  bondCount: number;
}

interface DerivedBond {
  a: number;
  b: number;
  order: number;
  ring: boolean;
  /** Tree bonds: direction written before the child; ring bonds: at the earlier atom. */
  directionA?: BondDirection;
  /** Ring bonds: direction at the later atom. */
  directionB?: BondDirection;
}

interface Derivation {
  atoms: DerivedAtom[];
  bonds: DerivedBond[];
  /** Bond index by unordered atom pair. */
  bondBetween: Map<string, number>;
  rings: { left: number; right: number; order: number; directions: [BondDirection?, BondDirection?] }[];
  /** First atom of each fragment, in order. */
  roots: number[];
}

const pairKey = (a: number, b: number) => (a < b ? `${a},${b}` : `${b},${a}`);

/** A cursor over one fragment's symbols. */
class SymbolStream {
  private position = 0;
  constructor(private readonly symbols: readonly string[]) {}
  next(): string | undefined {
    return this.position < this.symbols.length ? this.symbols[this.position++] : undefined;
  }
}

/**
 * Derives symbols from `stream` (at most `maxSymbols` of them) starting in `state` from `root`; returns how
 * many symbols it consumed (the grammar's recursive branch rule needs exactly that count).
 */
function derive(
  selfies: string,
  stream: SymbolStream,
  derivation: Derivation,
  maxSymbols: number,
  initialState: number,
  root: number | null,
): number {
  let consumed = 0;
  let state: number | null = initialState;
  let previous = root;
  while (state !== null && consumed < maxSymbols) {
    const text = stream.next();
    if (text === undefined) break;
    consumed++;
    const symbol = readSymbol(text);
    if (!symbol || symbol.kind === 'dot') throw new SelfiesDecodeError(selfies, `unknown symbol ${text}`);
    if (symbol.kind === 'nop') continue;
    if (symbol.kind === 'branch') {
      if (state <= 1) continue;
      const branchState = Math.min(state - 1, symbol.order);
      const nextState: number = state - branchState;
      const index = indexFromSymbols(Array.from({ length: symbol.indexLength }, () => stream.next()));
      consumed += symbol.indexLength;
      consumed += derive(selfies, stream, derivation, index + 1, branchState, previous);
      state = nextState;
    } else if (symbol.kind === 'ring') {
      if (state === 0 || previous === null) continue;
      const order = Math.min(symbol.order, state);
      const index = indexFromSymbols(Array.from({ length: symbol.indexLength }, () => stream.next()));
      consumed += symbol.indexLength;
      derivation.rings.push({
        left: Math.max(0, previous - (index + 1)),
        right: previous,
        order,
        directions: symbol.directions,
      });
      state = state - order === 0 ? null : state - order;
    } else {
      const order: number = state === 0 ? 0 : Math.min(symbol.order, state, symbol.capacity);
      const left: number = symbol.capacity - order;
      if (order === 0 && state !== 0) {
        state = null;
        continue;
      }
      const index = derivation.atoms.length;
      derivation.atoms.push({ symbol, parent: null, children: [], ringBonds: [], bondCount: order });
      if (order === 0 || previous === null) {
        derivation.roots.push(index);
      } else {
        derivation.atoms[index].parent = previous;
        derivation.atoms[previous].children.push(index);
        derivation.atoms[previous].bondCount += order;
        const direction = order === 1 ? symbol.direction : undefined;
        derivation.bondBetween.set(pairKey(previous, index), derivation.bonds.length);
        derivation.bonds.push({ a: previous, b: index, order, ring: false, directionA: direction });
      }
      previous = index;
      state = left === 0 ? null : left;
    }
  }
  // The grammar consumes a branch's full length even when its derivation stopped early.
  while (consumed < maxSymbols && stream.next() !== undefined) consumed++;
  return consumed;
}

/** Makes the pending ring bonds in order, each reduced to what both atoms still have room for. */
function formRings(derivation: Derivation): void {
  for (const ring of derivation.rings) {
    const { left, right } = ring;
    if (left === right) continue;
    const leftAtom = derivation.atoms[left];
    const rightAtom = derivation.atoms[right];
    const room = Math.min(
      leftAtom.symbol.capacity - leftAtom.bondCount,
      rightAtom.symbol.capacity - rightAtom.bondCount,
    );
    if (room <= 0) continue;
    const order = Math.min(ring.order, room);
    const existing = derivation.bondBetween.get(pairKey(left, right));
    if (existing !== undefined) {
      const bond = derivation.bonds[existing];
      const raised = Math.min(bond.order + order, 3);
      leftAtom.bondCount += raised - bond.order;
      rightAtom.bondCount += raised - bond.order;
      bond.order = raised;
      bond.directionA = undefined;
      bond.directionB = undefined;
      continue;
    }
    const bondIndex = derivation.bonds.length;
    derivation.bonds.push({
      a: left,
      b: right,
      order,
      ring: true,
      directionA: order === 1 ? ring.directions[0] : undefined,
      directionB: order === 1 ? ring.directions[1] : undefined,
    });
    derivation.bondBetween.set(pairKey(left, right), bondIndex);
    leftAtom.ringBonds.push(bondIndex);
    rightAtom.ringBonds.push(bondIndex);
    leftAtom.bondCount += order;
    rightAtom.bondCount += order;
  }
}

function atomSmiles(symbol: AtomSymbol): string {
  if (!symbol.bracket) return symbol.element;
  const hydrogens = symbol.hydrogens === 0 ? '' : symbol.hydrogens === 1 ? 'H' : `H${symbol.hydrogens}`;
  const charge = symbol.charge === 0 ? '' : `${symbol.charge > 0 ? '+' : '-'}${Math.abs(symbol.charge)}`;
  return `[${symbol.isotope ?? ''}${symbol.element}${symbol.chirality ?? ''}${hydrogens}${charge}]`;
}

const BOND_CHAR = ['', '', '=', '#'];

/**
 * Writes the derived molecule as SMILES in derivation order, each atom followed by its ring-closure digits in
 * the order the ring bonds were made, then its branches, then its chain. That is the neighbour order the
 * encoder assumes when it writes @/@@, so tetrahedral tags carry over unchanged.
 */
function writeSmiles(derivation: Derivation): string {
  const parts: string[] = [];
  const digitOf = new Map<number, number>();
  const freeDigits: number[] = [];
  let nextDigit = 1;
  const ringLabel = (digit: number) =>
    digit < 10 ? String(digit) : digit < 100 ? `%${digit}` : `%(${digit})`;
  // Recursion depth is bounded by branch nesting; chains are walked iteratively.
  const writeFrom = (start: number) => {
    let atom: number | undefined = start;
    while (atom !== undefined) {
      const derived: DerivedAtom = derivation.atoms[atom];
      if (derived.parent !== null) {
        const bond = derivation.bonds[derivation.bondBetween.get(pairKey(derived.parent, atom))!];
        parts.push(bond.order === 1 ? (bond.directionA ?? '') : BOND_CHAR[bond.order]);
      }
      parts.push(atomSmiles(derived.symbol));
      // Digits closed at this atom are reused only after it, so no atom reads "…11" (close and reopen).
      const closedHere: number[] = [];
      for (const bondIndex of derived.ringBonds) {
        const bond = derivation.bonds[bondIndex];
        const opening = bond.a === atom;
        if (opening) {
          const digit = freeDigits.length > 0 ? freeDigits.sort((x, y) => x - y).shift()! : nextDigit++;
          digitOf.set(bondIndex, digit);
          parts.push(bond.order === 1 ? (bond.directionA ?? '') : BOND_CHAR[bond.order], ringLabel(digit));
        } else {
          const digit = digitOf.get(bondIndex)!;
          parts.push(bond.order === 1 ? (bond.directionB ?? '') : BOND_CHAR[bond.order], ringLabel(digit));
          closedHere.push(digit);
        }
      }
      freeDigits.push(...closedHere);
      const children = derived.children;
      for (let c = 0; c < children.length - 1; c++) {
        parts.push('(');
        writeFrom(children[c]);
        parts.push(')');
      }
      atom = children.length > 0 ? children[children.length - 1] : undefined;
    }
  };
  derivation.roots.forEach((root, index) => {
    if (index > 0) parts.push('.');
    writeFrom(root);
  });
  return parts.join('');
}

/**
 * Decodes a SELFIES (string or symbol list) into a Kekulé SMILES. Any sequence of known symbols gives a
 * molecule within the bonding capacities; unknown symbols throw SelfiesDecodeError. An empty derivation
 * gives "".
 */
export function decodeSelfies(selfies: string | readonly string[]): string {
  const text = typeof selfies === 'string' ? selfies : selfies.join('');
  const symbols = typeof selfies === 'string' ? splitSelfies(selfies) : selfies;
  if (symbols.length > MAX_SELFIES_SYMBOLS) {
    throw new SelfiesDecodeError(text.slice(0, 100), `more than ${MAX_SELFIES_SYMBOLS} symbols`);
  }
  const derivation: Derivation = { atoms: [], bonds: [], bondBetween: new Map(), rings: [], roots: [] };
  let fragment: string[] = [];
  const deriveFragment = () => {
    derive(text, new SymbolStream(fragment), derivation, Infinity, 0, null);
    fragment = [];
  };
  for (const symbol of symbols) {
    // [nop] is removed before derivation: it neither derives nor counts towards branch lengths or indices.
    if (symbol === PAD_SYMBOL) continue;
    if (symbol === '.') deriveFragment();
    else fragment.push(symbol);
  }
  deriveFragment();
  formRings(derivation);
  return writeSmiles(derivation);
}

// ---------------------------------------------------------------------------------------------------------
// Encoder

interface PendingAtomSymbol {
  atom: number;
  prefix: string;
}

const MAX_INDEX = 16 ** 3 - 1;

function indexLengthFor(index: number): number {
  return index < 16 ? 1 : index < 256 ? 2 : 3;
}

/** Parity (0 even, 1 odd) of the permutation taking `from` to `to` (same elements). */
function permutationParity(from: readonly number[], to: readonly number[]): number {
  const position = new Map(to.map((value, index) => [value, index]));
  const permutation = from.map((value) => position.get(value)!);
  let parity = 0;
  const seen = new Uint8Array(permutation.length);
  for (let start = 0; start < permutation.length; start++) {
    if (seen[start]) continue;
    let length = 0;
    for (let i = start; !seen[i]; i = permutation[i]) {
      seen[i] = 1;
      length++;
    }
    parity ^= (length - 1) & 1;
  }
  return parity;
}

function atomBody(atom: SmilesAtom, chirality: '@' | '@@' | undefined): string {
  if (!atom.bracket) return atom.element;
  const hydrogens = atom.hydrogens ? `H${atom.hydrogens}` : '';
  const charge = atom.charge === 0 ? '' : `${atom.charge > 0 ? '+' : '-'}${Math.abs(atom.charge)}`;
  const body = `${atom.isotope ?? ''}${atom.element}${chirality ?? ''}${hydrogens}${charge}`;
  // "[C]" would read as organic-subset carbon with implicit hydrogens; a bracket atom without any of them says H0.
  return ORGANIC_SUBSET.has(body) ? `${body}H0` : body;
}

/**
 * Encodes a Kekulé SMILES (no aromatic atoms) as SELFIES, keeping the SMILES atom order, tetrahedral tags
 * (re-expressed for the decoder's neighbour order) and bond directions. Throws SelfiesEncodeError for
 * molecules outside the bonding capacities or the syntax SELFIES covers.
 */
export function encodeKekuleSmiles(smiles: string): string {
  let tree: SmilesTree;
  try {
    tree = parseSmilesTree(smiles);
  } catch (error) {
    if (error instanceof SmilesSyntaxError) throw new SelfiesEncodeError(smiles, 'syntax', error.reason);
    throw error;
  }
  const { atoms, bonds } = tree;

  // Every atom must fit its capacity, or the decoder would lower some bond order.
  const used = new Array<number>(atoms.length).fill(0);
  for (const bond of bonds) {
    used[bond.from] += bond.order;
    used[bond.to] += bond.order;
  }
  atoms.forEach((atom, index) => {
    const capacity = bondingCapacity(atom.element, atom.charge);
    const label = `${atom.element}${atom.charge ? (atom.charge > 0 ? '+' : '') + atom.charge : ''}`;
    if (capacity === undefined)
      throw new SelfiesEncodeError(smiles, 'charge state', `${label} has no bonding capacity`);
    const needed = used[index] + (atom.hydrogens ?? 0);
    if (needed > capacity) {
      throw new SelfiesEncodeError(
        smiles,
        'capacity',
        `${label} (atom ${index}) makes ${needed} bonds, capacity ${capacity}`,
      );
    }
  });

  const derivationIndex = new Array<number>(atoms.length).fill(-1);
  const ringFormation: number[] = [];
  let counter = 0;
  const pending: (string | PendingAtomSymbol)[] = [];

  // Emits the subtree hanging from `start` into `out`; returns nothing, the caller measures `out`.
  const emit = (start: number, out: (string | PendingAtomSymbol)[]) => {
    let atom: number | undefined = start;
    while (atom !== undefined) {
      const current: SmilesAtom = atoms[atom];
      const parentBond = current.parentBond === null ? undefined : bonds[current.parentBond];
      const prefix = !parentBond ? '' : (parentBond.fromDirection ?? BOND_CHAR[parentBond.order]);
      out.push({ atom, prefix });
      derivationIndex[atom] = counter++;
      for (const bondIndex of current.ringBonds) {
        const bond = bonds[bondIndex];
        if (bond.to !== atom) continue; // opened here: written where it closes
        const distance = derivationIndex[atom] - derivationIndex[bond.from] - 1;
        if (distance > MAX_INDEX)
          throw new SelfiesEncodeError(smiles, 'too long', 'ring bond spans more than 4096 atoms');
        const length = indexLengthFor(distance);
        const ring =
          bond.order === 1 && (bond.fromDirection || bond.toDirection)
            ? `[${bond.fromDirection ?? '-'}${bond.toDirection ?? '-'}Ring${length}]`
            : `[${BOND_CHAR[bond.order]}Ring${length}]`;
        out.push(ring, ...symbolsForIndex(distance, length));
        ringFormation.push(bondIndex);
      }
      const children = current.children;
      for (let c = 0; c < children.length - 1; c++) {
        const branch: (string | PendingAtomSymbol)[] = [];
        emit(children[c], branch);
        const size = branch.length - 1;
        if (size > MAX_INDEX)
          throw new SelfiesEncodeError(smiles, 'too long', 'branch longer than 4096 symbols');
        const length = indexLengthFor(size);
        const order = bonds[atoms[children[c]].parentBond!].order;
        out.push(`[${BOND_CHAR[order]}Branch${length}]`, ...symbolsForIndex(size, length), ...branch);
      }
      atom = children.length > 0 ? children[children.length - 1] : undefined;
    }
  };
  atoms.forEach((atom, index) => {
    if (atom.parent !== null) return;
    if (pending.length > 0) pending.push('.');
    emit(index, pending);
  });

  // Tetrahedral tags refer to neighbour order. SMILES lists ring partners in digit order; the decoder writes
  // them in ring-formation order. Everything else (parent, H, branches, chain) keeps its place, so the tag
  // flips exactly when re-ordering the ring partners is an odd permutation.
  const formationRank = new Map(ringFormation.map((bond, rank) => [bond, rank]));
  const chiralityFor = (atom: number): '@' | '@@' | undefined => {
    const tag = atoms[atom].chirality;
    const rings = atoms[atom].ringBonds;
    if (!tag || rings.length < 2) return tag;
    const inFormationOrder = [...rings].sort((x, y) => formationRank.get(x)! - formationRank.get(y)!);
    if (permutationParity(rings, inFormationOrder) === 0) return tag;
    return tag === '@' ? '@@' : '@';
  };
  return pending
    .map((item) =>
      typeof item === 'string'
        ? item
        : `[${item.prefix}${atomBody(atoms[item.atom], chiralityFor(item.atom))}]`,
    )
    .join('');
}

/**
 * SELFIES of any SMILES RDKit reads: RDKit canonicalises and kekulises it first, so equal molecules get equal
 * SELFIES. Throws MoleculeParseError for invalid SMILES and SelfiesEncodeError for molecules SELFIES cannot hold.
 */
export function smilesToSelfies(rdkit: RDKitModule, smiles: string): string {
  return encodeKekuleSmiles(withMolecule(rdkit, smiles, (mol) => kekuleSmiles(mol)));
}

// ---------------------------------------------------------------------------------------------------------
// Vocabulary, padding and one-hot encoding

/** Symbols indexed for a model; index 0 is always the padding symbol [nop]. */
export interface SelfiesVocabulary {
  readonly symbols: readonly string[];
  readonly indexOf: ReadonlyMap<string, number>;
}

/** A vocabulary from a stored symbol list (must start with [nop] and have no repeats or unknown symbols). */
export function vocabularyFromSymbols(symbols: readonly string[]): SelfiesVocabulary {
  if (symbols[0] !== PAD_SYMBOL) throw new Error(`a SELFIES vocabulary starts with ${PAD_SYMBOL}`);
  const indexOf = new Map<string, number>();
  symbols.forEach((symbol, index) => {
    if (indexOf.has(symbol)) throw new Error(`symbol ${symbol} appears twice in the vocabulary`);
    if (!readSymbol(symbol)) throw new Error(`${symbol} is not a SELFIES symbol`);
    indexOf.set(symbol, index);
  });
  return { symbols: [...symbols], indexOf };
}

/**
 * The vocabulary of a training set: [nop], then every symbol seen (and `extraSymbols`, e.g. the index
 * alphabet), sorted so that the same data always gives the same indices.
 */
export function buildVocabulary(
  selfiesList: Iterable<string>,
  extraSymbols: readonly string[] = INDEX_ALPHABET,
): SelfiesVocabulary {
  const seen = new Set<string>(extraSymbols);
  for (const selfies of selfiesList) for (const symbol of splitSelfies(selfies)) seen.add(symbol);
  seen.delete(PAD_SYMBOL);
  return vocabularyFromSymbols([PAD_SYMBOL, ...[...seen].sort()]);
}

/** Symbol indices of one SELFIES, padded with [nop] to `length`; throws if longer or if a symbol is unknown. */
export function selfiesToIndices(selfies: string, vocabulary: SelfiesVocabulary, length: number): Int32Array {
  const symbols = splitSelfies(selfies);
  if (symbols.length > length)
    throw new Error(`SELFIES has ${symbols.length} symbols, more than the length ${length}`);
  const indices = new Int32Array(length);
  symbols.forEach((symbol, position) => {
    const index = vocabulary.indexOf.get(symbol);
    if (index === undefined) throw new Error(`symbol ${symbol} is not in the vocabulary`);
    indices[position] = index;
  });
  return indices;
}

/** The SELFIES written by indices ([nop] dropped). */
export function indicesToSelfies(indices: ArrayLike<number>, vocabulary: SelfiesVocabulary): string {
  let text = '';
  for (let i = 0; i < indices.length; i++) {
    const symbol = vocabulary.symbols[indices[i]];
    if (symbol === undefined) throw new Error(`index ${indices[i]} is outside the vocabulary`);
    if (symbol !== PAD_SYMBOL) text += symbol;
  }
  return text;
}

/** One-hot encoding of a batch: row-major [batch, length, vocabulary size]. */
export function oneHotSelfies(
  selfiesList: readonly string[],
  vocabulary: SelfiesVocabulary,
  length: number,
): Float32Array {
  const size = vocabulary.symbols.length;
  const out = new Float32Array(selfiesList.length * length * size);
  selfiesList.forEach((selfies, row) => {
    const indices = selfiesToIndices(selfies, vocabulary, length);
    for (let position = 0; position < length; position++)
      out[(row * length + position) * size + indices[position]] = 1;
  });
  return out;
}

/** Decodes relaxed one-hot rows ([batch, length, vocabulary size] scores) by argmax per position. */
export function argmaxToSelfies(
  scores: ArrayLike<number>,
  batch: number,
  length: number,
  vocabulary: SelfiesVocabulary,
): string[] {
  const size = vocabulary.symbols.length;
  if (scores.length !== batch * length * size)
    throw new Error('scores do not have shape [batch, length, vocabulary]');
  const out: string[] = [];
  const indices = new Int32Array(length);
  for (let row = 0; row < batch; row++) {
    for (let position = 0; position < length; position++) {
      const offset = (row * length + position) * size;
      let best = 0;
      for (let k = 1; k < size; k++) if (scores[offset + k] > scores[offset + best]) best = k;
      indices[position] = best;
    }
    out.push(indicesToSelfies(indices, vocabulary));
  }
  return out;
}

/**
 * Symbols under which every string is a valid molecule: atoms of the listed capacities with each bond
 * prefix they can take, branches and rings of every kind, and the index alphabet.
 */
export function robustAlphabet(): string[] {
  const symbols = new Set<string>(INDEX_ALPHABET);
  for (const { element, charge, capacity } of listedBondingCapacities()) {
    const body = charge === 0 ? element : `${element}${charge > 0 ? '+' : '-'}${Math.abs(charge)}`;
    for (const prefix of ['', '=', '#']) {
      if (BOND_PREFIX_ORDER[prefix] <= Math.max(1, capacity)) symbols.add(`[${prefix}${body}]`);
    }
  }
  for (const length of [1, 2, 3]) {
    for (const prefix of ['', '=', '#']) {
      symbols.add(`[${prefix}Branch${length}]`);
      symbols.add(`[${prefix}Ring${length}]`);
    }
    symbols.add(`[-/Ring${length}]`);
    symbols.add(`[\\/Ring${length}]`);
  }
  return [...symbols].sort();
}
