/**
 * Torsion vectors of given 3-D conformers (e.g. an uploaded SD file), in the rotatable-bond order of a
 * reference molecule, so that they can train a torsional prior (DESIGN.md §4; issue 7 item 3: "priors trained on
 * conformer ensembles … or from uploaded SDF ensembles").
 *
 * An uploaded record has its own atom order. Every dihedral (a, b, c, d) of a rotatable bond is made of heavy
 * atoms (torsions.ts), so a heavy-atom graph isomorphism from the reference to the record (rmsd.ts, atoms
 * matched on element, charge, aromaticity and degree, bonds on order) carries each dihedral over, and the angle
 * is measured on the record's own coordinates (torsions.ts `dihedralAngle`). Aromaticity is RDKit's on both
 * sides (aromaticity.ts). When the molecule has symmetries the first isomorphism is used (the identity when the
 * record keeps the reference's heavy-atom order); a symmetric one measures an equivalent dihedral (e.g. the
 * other ortho carbon of a phenyl ring, θ + π), which describes the same conformer.
 */
import { withRdkitAromaticity } from './aromaticity';
import { graphIsomorphisms, heavyAtomGraph } from './rmsd';
import { readSdf } from './sdf';
import type { MoleculeTopology } from './structure';
import { dihedralAngle, type RotatableBond } from './torsions';

export interface TorsionReference {
  readonly topology: MoleculeTopology;
  readonly rotatableBonds: readonly RotatableBond[];
}

export interface SdfTorsions {
  /** Rows of m angles (radians, (−π, π]), one per record, in the reference's rotatable-bond order. */
  readonly torsions: Float32Array;
  readonly count: number;
  readonly names: readonly string[];
}

/** Torsions of coordinates given in another atom order, through a reference → record heavy-atom map. */
export function torsionsThroughMapping(
  coordinates: Float64Array,
  bonds: readonly RotatableBond[],
  atomMap: (referenceAtom: number) => number,
): Float64Array {
  return Float64Array.from(bonds, (bond) => {
    const [a, b, c, d] = bond.dihedral.map(atomMap);
    return dihedralAngle(coordinates, [a, b, c, d]);
  });
}

/** The torsion vectors of every record of an SD file that is the reference molecule (throws on any other). */
export async function torsionsFromSdf(text: string, reference: TorsionReference): Promise<SdfTorsions> {
  const records = readSdf(text);
  if (records.length === 0) throw new Error('the SD file holds no record');
  const referenceGraph = heavyAtomGraph(reference.topology);
  const referenceIndex = new Map<number, number>();
  referenceGraph.atoms.forEach((atom, index) => referenceIndex.set(atom, index));
  const m = reference.rotatableBonds.length;
  const torsions = new Float32Array(records.length * m);
  for (const [row, record] of records.entries()) {
    const graph = heavyAtomGraph(await withRdkitAromaticity(record.topology));
    let mapping: Int32Array;
    try {
      [mapping] = graphIsomorphisms(referenceGraph, graph, 1);
    } catch (error) {
      throw new Error(`SD record ${row + 1} (${record.name || 'unnamed'}) is not the reference molecule`, {
        cause: error,
      });
    }
    const atomMap = (atom: number) => graph.atoms[mapping[referenceIndex.get(atom)!]];
    torsions.set(torsionsThroughMapping(record.coordinates, reference.rotatableBonds, atomMap), row * m);
  }
  return { torsions, count: records.length, names: records.map((r) => r.name) };
}
