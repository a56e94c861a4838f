/**
 * A SMILES reader for the SELFIES encoder: turns a Kekulé SMILES (what RDKit writes after kekulisation) into
 * its parse tree, keeping what SMILES says about each atom's neighbour order (which tetrahedral @/@@ refer to)
 * and about bond directions (/ and \, which double-bond geometry refers to). Grammar: OpenSMILES
 * (http://opensmiles.org/opensmiles.html), without aromatic atoms, which the codec never sees.
 */

/** An atom as written. */
export interface SmilesAtom {
  element: string;
  /** Written in square brackets (explicit H count, charge, isotope, chirality possible). */
  bracket: boolean;
  isotope?: number;
  chirality?: '@' | '@@';
  /** Explicit hydrogens in brackets (0 if none written); undefined for organic-subset atoms. */
  hydrogens?: number;
  charge: number;
  /** The atom this one hangs from in the written tree (null for the first atom of each component). */
  parent: number | null;
  /** Bond to the parent. */
  parentBond: number | null;
  /** Atoms written after this one and bonded to it through the tree, in written order (branches, then chain). */
  children: number[];
  /** Ring-closure bonds at this atom, in the order their digits are written after it. */
  ringBonds: number[];
}

export type BondDirection = '/' | '\\';

export interface SmilesBond {
  /** For tree bonds the parent, for ring bonds the atom where the digit opened. */
  from: number;
  /** For tree bonds the child, for ring bonds the atom where the digit closed. */
  to: number;
  order: 1 | 2 | 3;
  ring: boolean;
  /** Direction written on the bond (tree bonds: between the atoms; ring bonds: at the opening digit). */
  fromDirection?: BondDirection;
  /** Ring bonds only: direction written at the closing digit. */
  toDirection?: BondDirection;
}

export interface SmilesTree {
  atoms: SmilesAtom[];
  bonds: SmilesBond[];
}

export class SmilesSyntaxError extends Error {
  constructor(
    readonly smiles: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`SMILES ${JSON.stringify(smiles)} at position ${position}: ${reason}`);
    this.name = 'SmilesSyntaxError';
  }
}

/** Atoms SMILES may write without brackets (their H count is implied by the normal valence). */
export const ORGANIC_SUBSET = new Set(['B', 'C', 'N', 'O', 'P', 'S', 'F', 'Cl', 'Br', 'I']);

const BOND_ORDER: Record<string, 1 | 2 | 3> = { '-': 1, '=': 2, '#': 3, '/': 1, '\\': 1 };

/** Parses a Kekulé SMILES into its written tree; throws SmilesSyntaxError on anything it cannot represent. */
export function parseSmilesTree(smiles: string): SmilesTree {
  const atoms: SmilesAtom[] = [];
  const bonds: SmilesBond[] = [];
  const branchStack: number[] = [];
  const openRings = new Map<number, { atom: number; bondChar?: string; bond: number }>();
  let previous: number | null = null;
  let pendingBond: string | undefined;
  let position = 0;
  const fail = (reason: string): never => {
    throw new SmilesSyntaxError(smiles, position, reason);
  };

  const addAtom = (atom: Omit<SmilesAtom, 'parent' | 'parentBond' | 'children' | 'ringBonds'>) => {
    const index = atoms.length;
    atoms.push({ ...atom, parent: previous, parentBond: null, children: [], ringBonds: [] });
    if (previous !== null) {
      const order = pendingBond ? BOND_ORDER[pendingBond] : 1;
      const direction = pendingBond === '/' || pendingBond === '\\' ? pendingBond : undefined;
      bonds.push({ from: previous, to: index, order, ring: false, fromDirection: direction });
      atoms[index].parentBond = bonds.length - 1;
      atoms[previous].children.push(index);
    } else if (pendingBond) {
      fail('bond symbol before the first atom');
    }
    pendingBond = undefined;
    previous = index;
  };

  while (position < smiles.length) {
    const char = smiles[position];
    if (char === '[') {
      const end = smiles.indexOf(']', position);
      if (end < 0) fail('unclosed bracket atom');
      addAtom(parseBracketAtom(smiles.slice(position + 1, end), (reason) => fail(reason)));
      position = end + 1;
    } else if (/[A-Z*]/.test(char)) {
      const two = smiles.slice(position, position + 2);
      const symbol = two === 'Cl' || two === 'Br' ? two : char;
      if (symbol === '*') fail('wildcard atoms have no SELFIES form');
      if (!ORGANIC_SUBSET.has(symbol)) fail(`"${symbol}" is not an organic-subset atom`);
      addAtom({ element: symbol, bracket: false, charge: 0 });
      position += symbol.length;
    } else if (/[bcnops]/.test(char)) {
      fail('aromatic atom (kekulise the SMILES first)');
    } else if (char in BOND_ORDER) {
      if (pendingBond) fail('two bond symbols in a row');
      pendingBond = char;
      position++;
    } else if (char === ':' || char === '$' || char === '~') {
      fail(`bond "${char}" has no SELFIES form`);
    } else if (char === '(') {
      if (previous === null) return fail('branch before any atom');
      branchStack.push(previous);
      position++;
    } else if (char === ')') {
      if (branchStack.length === 0) fail('unmatched ")"');
      if (pendingBond) fail('bond symbol before ")"');
      previous = branchStack.pop()!;
      position++;
    } else if (char === '.') {
      if (pendingBond) fail('bond symbol before "."');
      if (branchStack.length > 0) fail('"." inside a branch');
      previous = null;
      position++;
    } else if (/[0-9%]/.test(char)) {
      let ringNumber: number;
      if (char === '%') {
        const match = /^%(\d\d|\(\d+\))/.exec(smiles.slice(position));
        if (!match) fail('bad %nn ring number');
        ringNumber = Number(match![1].replace(/[()]/g, ''));
        position += match![0].length;
      } else {
        ringNumber = Number(char);
        position++;
      }
      if (previous === null) fail('ring number before any atom');
      const here = previous!;
      const open = openRings.get(ringNumber);
      if (!open) {
        // Opening digit: the bond exists once it closes; remember what was written here.
        const bond = bonds.length;
        bonds.push({ from: here, to: -1, order: 1, ring: true });
        openRings.set(ringNumber, { atom: here, bondChar: pendingBond, bond });
        atoms[here].ringBonds.push(bond);
      } else {
        openRings.delete(ringNumber);
        if (open.atom === here) fail('ring bond from an atom to itself');
        const bond = bonds[open.bond];
        const orders = [open.bondChar, pendingBond].filter((c) => c && c !== '/' && c !== '\\');
        const order = orders.length > 0 ? BOND_ORDER[orders[0]!] : 1;
        if (orders.some((c) => BOND_ORDER[c!] !== order)) fail('ring bond written with two different orders');
        bond.to = here;
        bond.order = order;
        if (open.bondChar === '/' || open.bondChar === '\\') bond.fromDirection = open.bondChar;
        if (pendingBond === '/' || pendingBond === '\\') bond.toDirection = pendingBond;
        atoms[here].ringBonds.push(open.bond);
      }
      pendingBond = undefined;
    } else {
      fail(`unexpected character "${char}"`);
    }
  }
  if (pendingBond) fail('SMILES ends with a bond symbol');
  if (branchStack.length > 0) fail('unclosed branch');
  if (openRings.size > 0) fail(`unclosed ring ${[...openRings.keys()].join(', ')}`);
  if (atoms.length === 0) fail('no atoms');
  const bonded = new Set<string>();
  for (const bond of bonds) {
    const key = bond.from < bond.to ? `${bond.from}-${bond.to}` : `${bond.to}-${bond.from}`;
    if (bonded.has(key)) fail('two bonds between the same atoms');
    bonded.add(key);
  }
  return { atoms, bonds };
}

/** Bracket atom: isotope? symbol chirality? hcount? charge? class?  (OpenSMILES §3.1). */
function parseBracketAtom(
  text: string,
  fail: (reason: string) => never,
): Omit<SmilesAtom, 'parent' | 'parentBond' | 'children' | 'ringBonds'> {
  const match =
    /^(\d+)?([A-Z][a-z]?|[a-z][a-z]?|\*)(@@|@(?:TH[12]|AL[12]|SP[1-3]|TB\d\d?|OH\d\d?)?)?(H\d*)?([+-]+\d*)?(:\d+)?$/.exec(
      text,
    );
  if (!match) fail(`cannot read bracket atom [${text}]`);
  const [, isotope, element, chirality, hydrogens, charge, atomClass] = match;
  if (element === '*') fail('wildcard atoms have no SELFIES form');
  if (element[0] === element[0].toLowerCase()) fail('aromatic atom (kekulise the SMILES first)');
  if (chirality && chirality !== '@' && chirality !== '@@')
    fail(`chirality ${chirality} is not tetrahedral @/@@`);
  if (atomClass) fail('atom classes (maps) have no SELFIES form');
  let chargeValue = 0;
  if (charge) {
    const sign = charge[0] === '+' ? 1 : -1;
    const digits = charge.replace(/[+-]/g, '');
    chargeValue = sign * (digits ? Number(digits) : charge.length);
  }
  return {
    element,
    bracket: true,
    isotope: isotope ? Number(isotope) : undefined,
    chirality: chirality === '@' || chirality === '@@' ? chirality : undefined,
    hydrogens: hydrogens ? (hydrogens.length > 1 ? Number(hydrogens.slice(1)) : 1) : 0,
    charge: chargeValue,
  };
}
