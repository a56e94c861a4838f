/**
 * A molecule with all hydrogens explicit, as the conformer code sees it: elements, charges and bonds (the
 * topology, fixed for a whole ensemble) and, separately, one Float64Array of coordinates per conformer
 * (x0, y0, z0, x1, …, in Å). Torsion moves, RMSD and SDF output work on these plain arrays; OpenChemLib is
 * only needed to build the topology, to embed and to evaluate MMFF94 (DESIGN.md §4).
 */
import { openChemLib, type OclMolecule } from './ocl';

export interface Bond {
  readonly from: number;
  readonly to: number;
  /** 1, 2 or 3 as written in the Kekulé structure (a molfile's bond order). */
  readonly order: number;
  readonly aromatic: boolean;
  readonly inRing: boolean;
}

export interface MoleculeTopology {
  readonly atomCount: number;
  readonly atomicNumbers: Int32Array;
  readonly charges: Int32Array;
  /** Mass number when the input named an isotope (e.g. [2H]), else 0. */
  readonly isotopes: Int32Array;
  readonly aromaticAtoms: Uint8Array;
  readonly bonds: readonly Bond[];
  /** neighbours[atom] lists every bonded atom, hydrogens included. */
  readonly neighbours: readonly (readonly number[])[];
  /** Indices of the non-hydrogen atoms, ascending. */
  readonly heavyAtoms: readonly number[];
  /** The bond joining a and b, if any. */
  bondBetween(a: number, b: number): Bond | undefined;
}

/** Copies what the conformer code needs out of an OpenChemLib molecule (all atoms, hydrogens included). */
export function topologyFromOcl(mol: OclMolecule): MoleculeTopology {
  const OCL = openChemLib();
  mol.ensureHelperArrays(OCL.Molecule.cHelperRings);
  const atomCount = mol.getAllAtoms();
  const atomicNumbers = new Int32Array(atomCount);
  const charges = new Int32Array(atomCount);
  const isotopes = new Int32Array(atomCount);
  const aromaticAtoms = new Uint8Array(atomCount);
  for (let atom = 0; atom < atomCount; atom++) {
    atomicNumbers[atom] = mol.getAtomicNo(atom);
    charges[atom] = mol.getAtomCharge(atom);
    isotopes[atom] = mol.getAtomMass(atom);
    aromaticAtoms[atom] = mol.isAromaticAtom(atom) ? 1 : 0;
  }
  const bonds: Bond[] = [];
  const neighbours: number[][] = Array.from({ length: atomCount }, () => []);
  const bondKey = new Map<number, Bond>();
  for (let index = 0; index < mol.getAllBonds(); index++) {
    const from = mol.getBondAtom(0, index);
    const to = mol.getBondAtom(1, index);
    const bond: Bond = {
      from,
      to,
      order: mol.getBondOrder(index),
      aromatic: mol.isAromaticBond(index),
      inRing: mol.isRingBond(index),
    };
    bonds.push(bond);
    neighbours[from].push(to);
    neighbours[to].push(from);
    bondKey.set(Math.min(from, to) * atomCount + Math.max(from, to), bond);
  }
  const heavyAtoms: number[] = [];
  for (let atom = 0; atom < atomCount; atom++) if (atomicNumbers[atom] !== 1) heavyAtoms.push(atom);
  return {
    atomCount,
    atomicNumbers,
    charges,
    isotopes,
    aromaticAtoms,
    bonds,
    neighbours,
    heavyAtoms,
    bondBetween: (a, b) => bondKey.get(Math.min(a, b) * atomCount + Math.max(a, b)),
  };
}

/** The molecule's current 3-D coordinates as one flat array. */
export function coordinatesFromOcl(mol: OclMolecule): Float64Array {
  const n = mol.getAllAtoms();
  const coordinates = new Float64Array(3 * n);
  for (let atom = 0; atom < n; atom++) {
    coordinates[3 * atom] = mol.getAtomX(atom);
    coordinates[3 * atom + 1] = mol.getAtomY(atom);
    coordinates[3 * atom + 2] = mol.getAtomZ(atom);
  }
  return coordinates;
}

/** Writes coordinates into the molecule (same atom order), e.g. before an MMFF94 evaluation. */
export function setOclCoordinates(mol: OclMolecule, coordinates: Float64Array): void {
  const n = mol.getAllAtoms();
  if (coordinates.length !== 3 * n)
    throw new Error(`setOclCoordinates: ${coordinates.length / 3} coordinates for ${n} atoms`);
  for (let atom = 0; atom < n; atom++) {
    mol.setAtomX(atom, coordinates[3 * atom]);
    mol.setAtomY(atom, coordinates[3 * atom + 1]);
    mol.setAtomZ(atom, coordinates[3 * atom + 2]);
  }
}

/** Parses SMILES with OpenChemLib; throws a readable error on bad input. */
export function moleculeFromSmiles(smiles: string): OclMolecule {
  const OCL = openChemLib();
  try {
    return OCL.Molecule.fromSmiles(smiles);
  } catch (error) {
    throw new Error(`cannot parse SMILES ${JSON.stringify(smiles)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
