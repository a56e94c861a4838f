/**
 * Rotatable bonds and torsion angles (DESIGN.md §4: the flow acts on torsion angles of rotatable bonds on a
 * base geometry whose bond lengths and angles stay fixed).
 *
 * Rotatable bonds follow RDKit's strict definition (rdMolDescriptors.CalcNumRotatableBonds with
 * NumRotatableBondsOptions::Strict, Code/GraphMol/Descriptors/Lipinski.cpp), whose SMARTS is
 *
 *   [!$(*#*)&!D1&!$(C(F)(F)F)&!$(C(Cl)(Cl)Cl)&!$(C(Br)(Br)Br)&!$(C([CH3])([CH3])[CH3])
 *     &!$([CD3](=[N,O,S])-!@[#7,O,S!D1])&!$([#7,O,S!D1]-!@[CD3]=[N,O,S])
 *     &!$([CD3](=[N+])-!@[#7!D1])&!$([#7!D1]-!@[CD3]=[N+])]
 *   -,:;!@
 *   [!$(*#*)&!D1&!$(C(F)(F)F)&!$(C(Cl)(Cl)Cl)&!$(C(Br)(Br)Br)&!$(C([CH3])([CH3])[CH3])]
 *
 * evaluated here directly on the graph: D counts heavy neighbours (RDKit's molecule from SMILES has implicit
 * hydrogens), "C"/"N"/"O"/"S" are aliphatic atoms, "[CH3]" counts all hydrogens. The first atom carries the
 * amide/ester/amidine exclusions and the second does not, and a SMARTS match may take the bond either way
 * round, so a bond counts when both ends pass the common test and at least one end also passes the
 * exclusions. Aromaticity is OpenChemLib's, which can differ from RDKit's on rare ring systems.
 */
import type { MoleculeTopology } from './structure';

export interface RotatableBond {
  /** Dihedral atoms (a, b, c, d): b–c is the rotatable bond, a a heavy neighbour of b, d one of c. */
  readonly dihedral: readonly [number, number, number, number];
  /** Atoms that move (rigidly, about the b→c axis) when the torsion changes: the side of c, hydrogens included. */
  readonly movingAtoms: Int32Array;
}

const CARBON = 6;
const NITROGEN = 7;
const OXYGEN = 8;
const FLUORINE = 9;
const SULFUR = 16;
const CHLORINE = 17;
const BROMINE = 35;

function heavyNeighbours(topology: MoleculeTopology, atom: number): number[] {
  return topology.neighbours[atom].filter((other) => topology.atomicNumbers[other] !== 1);
}

function hydrogenCount(topology: MoleculeTopology, atom: number): number {
  return topology.neighbours[atom].filter((other) => topology.atomicNumbers[other] === 1).length;
}

function isAliphatic(topology: MoleculeTopology, atom: number, atomicNumber: number): boolean {
  return topology.atomicNumbers[atom] === atomicNumber && topology.aromaticAtoms[atom] === 0;
}

/** SMARTS single bond "-": a non-aromatic bond of order 1. */
function isSingle(topology: MoleculeTopology, a: number, b: number): boolean {
  const bond = topology.bondBetween(a, b);
  return bond !== undefined && !bond.aromatic && bond.order === 1;
}

function isDouble(topology: MoleculeTopology, a: number, b: number): boolean {
  const bond = topology.bondBetween(a, b);
  return bond !== undefined && !bond.aromatic && bond.order === 2;
}

function isChainSingle(topology: MoleculeTopology, a: number, b: number): boolean {
  return isSingle(topology, a, b) && !topology.bondBetween(a, b)!.inRing;
}

/** The common atom test: not in a triple bond, not terminal, not CX3 (X = F, Cl, Br) nor C(CH3)3. */
function passesCommonTest(topology: MoleculeTopology, atom: number): boolean {
  const heavy = heavyNeighbours(topology, atom);
  if (heavy.length <= 1) return false; // !D1 (and a lone atom cannot be in a bond)
  if (topology.neighbours[atom].some((other) => topology.bondBetween(atom, other)!.order === 3)) return false;
  if (isAliphatic(topology, atom, CARBON)) {
    // $(C(X)(X)X): three distinct neighbours of one kind, each by a SMARTS default bond (single or aromatic).
    const countSingly = (predicate: (other: number) => boolean) =>
      heavy.filter((other) => {
        const bond = topology.bondBetween(atom, other)!;
        return (bond.order === 1 || bond.aromatic) && predicate(other);
      }).length;
    for (const halogen of [FLUORINE, CHLORINE, BROMINE])
      if (countSingly((other) => topology.atomicNumbers[other] === halogen) >= 3) return false;
    const isMethyl = (other: number) =>
      isAliphatic(topology, other, CARBON) && hydrogenCount(topology, other) === 3;
    if (countSingly(isMethyl) >= 3) return false;
  }
  return true;
}

/** [CD3] with a double bond to an aliphatic atom that passes `partner`. */
function isTrigonalCarbonDoublyBondedTo(
  topology: MoleculeTopology,
  atom: number,
  partner: (other: number) => boolean,
): boolean {
  if (!isAliphatic(topology, atom, CARBON) || heavyNeighbours(topology, atom).length !== 3) return false;
  return topology.neighbours[atom].some((other) => isDouble(topology, atom, other) && partner(other));
}

/** The amide/ester/thioamide/amidine exclusions of the first atom of the strict SMARTS. */
function passesAmideExclusions(topology: MoleculeTopology, atom: number): boolean {
  const isAliphaticNOS = (other: number) =>
    isAliphatic(topology, other, NITROGEN) ||
    isAliphatic(topology, other, OXYGEN) ||
    isAliphatic(topology, other, SULFUR);
  const isIminium = (other: number) =>
    isAliphatic(topology, other, NITROGEN) && topology.charges[other] === 1;
  // [#7,O,S!D1]: any nitrogen, or aliphatic O, or aliphatic S that is not terminal (SMARTS "!" binds before ",").
  const isHeteroPartner = (other: number) =>
    topology.atomicNumbers[other] === NITROGEN ||
    isAliphatic(topology, other, OXYGEN) ||
    (isAliphatic(topology, other, SULFUR) && heavyNeighbours(topology, other).length !== 1);
  const isNonTerminalNitrogen = (other: number) =>
    topology.atomicNumbers[other] === NITROGEN && heavyNeighbours(topology, other).length !== 1;
  const chainPartners = topology.neighbours[atom].filter((other) => isChainSingle(topology, atom, other));

  // $([CD3](=[N,O,S])-!@[#7,O,S!D1]) and $([CD3](=[N+])-!@[#7!D1])
  if (isTrigonalCarbonDoublyBondedTo(topology, atom, isAliphaticNOS) && chainPartners.some(isHeteroPartner))
    return false;
  if (isTrigonalCarbonDoublyBondedTo(topology, atom, isIminium) && chainPartners.some(isNonTerminalNitrogen))
    return false;
  // $([#7,O,S!D1]-!@[CD3]=[N,O,S]) and $([#7!D1]-!@[CD3]=[N+])
  if (
    isHeteroPartner(atom) &&
    chainPartners.some((other) => isTrigonalCarbonDoublyBondedTo(topology, other, isAliphaticNOS))
  )
    return false;
  if (
    isNonTerminalNitrogen(atom) &&
    chainPartners.some((other) => isTrigonalCarbonDoublyBondedTo(topology, other, isIminium))
  )
    return false;
  return true;
}

/** Atoms reached from `start` without crossing the bond start–`blocked`. */
function sideOf(topology: MoleculeTopology, start: number, blocked: number): number[] {
  const seen = new Uint8Array(topology.atomCount);
  seen[start] = 1;
  seen[blocked] = 1;
  const stack = [start];
  const side: number[] = [];
  while (stack.length > 0) {
    const atom = stack.pop()!;
    side.push(atom);
    for (const other of topology.neighbours[atom])
      if (!seen[other]) {
        seen[other] = 1;
        stack.push(other);
      }
  }
  return side;
}

/**
 * The strict-definition rotatable bonds, each with its dihedral and the smaller side as the moving fragment
 * (fewer atoms to move; the torsion angle is the same whichever side turns).
 */
export function findRotatableBonds(topology: MoleculeTopology): RotatableBond[] {
  const rotatable: RotatableBond[] = [];
  for (const bond of topology.bonds) {
    const { from, to } = bond;
    if (bond.inRing || !(bond.aromatic || bond.order === 1)) continue; // -,:;!@
    if (topology.atomicNumbers[from] === 1 || topology.atomicNumbers[to] === 1) continue;
    if (!passesCommonTest(topology, from) || !passesCommonTest(topology, to)) continue;
    if (!passesAmideExclusions(topology, from) && !passesAmideExclusions(topology, to)) continue;
    const fromSide = sideOf(topology, from, to);
    const toSide = sideOf(topology, to, from);
    // Orient so that c–d is the moving side.
    const [b, c, moving] = toSide.length <= fromSide.length ? [from, to, toSide] : [to, from, fromSide];
    const a = Math.min(...heavyNeighbours(topology, b).filter((other) => other !== c));
    const d = Math.min(...heavyNeighbours(topology, c).filter((other) => other !== b));
    rotatable.push({
      dihedral: [a, b, c, d],
      movingAtoms: Int32Array.from(moving.filter((atom) => atom !== c)),
    });
  }
  return rotatable;
}

/**
 * Rotors of polar hydrogens: the single, acyclic bond b–c to a terminal O, N or S (c has no heavy neighbour
 * but b) that carries hydrogens. RDKit's strict definition does not count them (c is a terminal heavy atom),
 * yet where an O–H or N–H points decides hydrogen bonds, often by several kcal/mol; an ensemble's random
 * starts turn them too. Dihedral a–b–c–H with a heavy neighbour a of b (skipped when b has none); the
 * moving atoms are c's hydrogens.
 */
export function findPolarHydrogenRotors(topology: MoleculeTopology): RotatableBond[] {
  const rotors: RotatableBond[] = [];
  for (const bond of topology.bonds) {
    if (bond.inRing || bond.aromatic || bond.order !== 1) continue;
    for (const [b, c] of [
      [bond.from, bond.to],
      [bond.to, bond.from],
    ]) {
      if (![OXYGEN, NITROGEN, SULFUR].includes(topology.atomicNumbers[c])) continue;
      if (heavyNeighbours(topology, c).length !== 1 || topology.atomicNumbers[b] === 1) continue;
      const hydrogens = topology.neighbours[c].filter((other) => topology.atomicNumbers[other] === 1);
      const others = heavyNeighbours(topology, b).filter((other) => other !== c);
      if (hydrogens.length === 0 || others.length === 0) continue;
      rotors.push({
        dihedral: [Math.min(...others), b, c, hydrogens[0]],
        movingAtoms: Int32Array.from(hydrogens),
      });
    }
  }
  return rotors;
}

/** Dihedral angle a–b–c–d in radians, in (−π, π] (IUPAC sign convention). */
export function dihedralAngle(
  coordinates: Float64Array,
  dihedral: readonly [number, number, number, number],
): number {
  const [a, b, c, d] = dihedral;
  const v = (i: number, j: number) => [
    coordinates[3 * j] - coordinates[3 * i],
    coordinates[3 * j + 1] - coordinates[3 * i + 1],
    coordinates[3 * j + 2] - coordinates[3 * i + 2],
  ];
  const b1 = v(a, b);
  const b2 = v(b, c);
  const b3 = v(c, d);
  const n1 = cross(b1, b2);
  const n2 = cross(b2, b3);
  const b2Length = Math.hypot(b2[0], b2[1], b2[2]);
  const m1 = cross(n1, [b2[0] / b2Length, b2[1] / b2Length, b2[2] / b2Length]);
  return Math.atan2(dot(m1, n2), dot(n1, n2));
}

function cross(u: number[], v: number[]): number[] {
  return [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
}

function dot(u: number[], v: number[]): number {
  return u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
}

/**
 * Sets the torsion to `angle` (radians) by rotating the moving fragment rigidly about the b→c axis
 * (Rodrigues' rotation formula), in place. Bond lengths and angles are unchanged (DESIGN.md §4).
 */
export function setTorsion(coordinates: Float64Array, bond: RotatableBond, angle: number): void {
  // Turning the c side by +θ about the b→c axis (right-hand rule) lowers the IUPAC dihedral a–b–c–d by θ.
  const delta = dihedralAngle(coordinates, bond.dihedral) - angle;
  const [, b, c] = bond.dihedral;
  const ox = coordinates[3 * c];
  const oy = coordinates[3 * c + 1];
  const oz = coordinates[3 * c + 2];
  let kx = ox - coordinates[3 * b];
  let ky = oy - coordinates[3 * b + 1];
  let kz = oz - coordinates[3 * b + 2];
  const length = Math.hypot(kx, ky, kz);
  kx /= length;
  ky /= length;
  kz /= length;
  const cosine = Math.cos(delta);
  const sine = Math.sin(delta);
  for (const atom of bond.movingAtoms) {
    const px = coordinates[3 * atom] - ox;
    const py = coordinates[3 * atom + 1] - oy;
    const pz = coordinates[3 * atom + 2] - oz;
    const kDotP = kx * px + ky * py + kz * pz;
    // v' = v cosθ + (k × v) sinθ + k (k·v)(1 − cosθ)
    coordinates[3 * atom] = ox + px * cosine + (ky * pz - kz * py) * sine + kx * kDotP * (1 - cosine);
    coordinates[3 * atom + 1] = oy + py * cosine + (kz * px - kx * pz) * sine + ky * kDotP * (1 - cosine);
    coordinates[3 * atom + 2] = oz + pz * cosine + (kx * py - ky * px) * sine + kz * kDotP * (1 - cosine);
  }
}

/** All torsion angles of the rotatable bonds, radians. */
export function torsionAngles(coordinates: Float64Array, bonds: readonly RotatableBond[]): Float64Array {
  return Float64Array.from(bonds, (bond) => dihedralAngle(coordinates, bond.dihedral));
}
