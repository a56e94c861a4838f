/**
 * Geometry of the conformer core (DESIGN.md §4): rotatable bonds against RDKit's strict definition, torsion
 * setting by rigid rotation, and the symmetric, superposed heavy-atom RMSD on cases with exact answers.
 */
import { describe, expect, it } from 'vitest';
import { withRdkitAromaticity } from '~/server/molecules/conformers/aromaticity';
import { embedConformers } from '~/server/molecules/conformers/ensemble';
import {
  centredHeavyAtoms,
  graphIsomorphisms,
  heavyAtomGraph,
  optimalRotation,
  superposedRmsd,
  SymmetricRmsd,
} from '~/server/molecules/conformers/rmsd';
import {
  coordinatesFromOcl,
  moleculeFromSmiles,
  topologyFromOcl,
  type MoleculeTopology,
} from '~/server/molecules/conformers/structure';
import {
  dihedralAngle,
  findPolarHydrogenRotors,
  findRotatableBonds,
  setTorsion,
} from '~/server/molecules/conformers/torsions';
import { oracleProps, readSmilesColumn, sharedDataFile } from '../support/rdkitPeer';

function distance(coordinates: Float64Array, i: number, j: number): number {
  return Math.hypot(
    coordinates[3 * i] - coordinates[3 * j],
    coordinates[3 * i + 1] - coordinates[3 * j + 1],
    coordinates[3 * i + 2] - coordinates[3 * j + 2],
  );
}

function angle(coordinates: Float64Array, i: number, j: number, k: number): number {
  const u = [0, 1, 2].map((a) => coordinates[3 * i + a] - coordinates[3 * j + a]);
  const v = [0, 1, 2].map((a) => coordinates[3 * k + a] - coordinates[3 * j + a]);
  const dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
  return Math.acos(dot / (Math.hypot(...u) * Math.hypot(...v)));
}

async function topologyOf(smiles: string): Promise<MoleculeTopology> {
  const molecule = moleculeFromSmiles(smiles);
  molecule.addImplicitHydrogens();
  return withRdkitAromaticity(topologyFromOcl(molecule));
}

describe('polar-hydrogen rotors', () => {
  it('find each terminal O–H, N–H or S–H with a heavy reference atom, and nothing else', async () => {
    const count = async (smiles: string) => findPolarHydrogenRotors(await topologyOf(smiles));
    const ethanol = await count('CCO');
    expect(ethanol).toHaveLength(1);
    const topology = await topologyOf('CCO');
    const [a, b, c, d] = ethanol[0].dihedral;
    expect([a, b, c].map((atom) => topology.atomicNumbers[atom])).toEqual([6, 6, 8]);
    expect(topology.atomicNumbers[d]).toBe(1);
    expect(ethanol[0].movingAtoms).toHaveLength(1);
    expect((await count('CCN'))[0].movingAtoms).toHaveLength(2); // NH2: both hydrogens turn
    expect(await count('OC(=O)CCS')).toHaveLength(2); // carboxylic O–H and thiol S–H
    expect(await count('Oc1ccccc1')).toHaveLength(1); // phenol
    expect(await count('CO')).toHaveLength(0); // no heavy atom to measure the turn from
    expect(await count('CCOC')).toHaveLength(0); // an ether O carries no hydrogen
    expect(await count('OC1CCCC1')).toHaveLength(1);
    expect(await count('C1CCNCC1')).toHaveLength(0); // a ring N–H has no rotor
  });
});

describe('rotatable bonds (RDKit strict definition)', () => {
  it('match RDKit CalcNumRotatableBonds on 400 ZINC molecules and hand-picked cases', async () => {
    const handPicked = [
      'CC(=O)Oc1ccccc1C(=O)O', // ester C(=O)–O excluded, O–c and c–C(=O) rotatable
      'CC(=O)NCc1ccccc1', // amide C–N excluded
      'FC(F)(F)c1ccccc1CCC', // CF3 excluded
      'CC(C)(C)c1ccccc1', // tBu excluded
      'CC#CCC', // next to a triple bond
      'Cc1cc(=O)[nH]c(SCC)n1', // RDKit calls this pyrimidinone aromatic, OpenChemLib does not
      'c1ccccc1-c1ccccc1',
      'NC(=[NH2+])NCC',
    ];
    const zinc = readSmilesColumn(sharedDataFile('molecules/jtvae_zinc_test_5k.smi'), 400);
    const smiles = [...handPicked, ...zinc];
    const reference = oracleProps(smiles).rows;
    const mismatches: string[] = [];
    for (const [index, input] of smiles.entries()) {
      const row = reference[index];
      if (!row.valid) throw new Error(`RDKit cannot read ${input}`);
      const ours = findRotatableBonds(await topologyOf(input)).length;
      if (ours !== row.rotb) mismatches.push(`${input}: ours ${ours}, RDKit ${row.rotb}`);
    }
    console.log(`rotatable bonds: ${smiles.length - mismatches.length}/${smiles.length} agree with RDKit`);
    expect(mismatches).toEqual([]);
  });
});

describe('setting torsions', () => {
  it('sets the dihedral exactly and keeps every bond length and bond angle', async () => {
    const [conformer] = embedConformers('CCCCOC(=O)c1ccccc1', 1, 3);
    const topology = await withRdkitAromaticity(topologyFromOcl(conformer));
    const bonds = findRotatableBonds(topology);
    expect(bonds.length).toBe(4); // C–C, C–C, C–O(ester alkyl side), c–C(=O); the ester C(=O)–O is not rotatable
    const before = coordinatesFromOcl(conformer);
    const after = Float64Array.from(before);
    const targets = [0.3, -2.1, Math.PI, 1.7];
    bonds.forEach((bond, index) => setTorsion(after, bond, targets[index]));
    bonds.forEach((bond, index) => {
      const difference = dihedralAngle(after, bond.dihedral) - targets[index];
      expect(Math.abs(Math.atan2(Math.sin(difference), Math.cos(difference)))).toBeLessThan(1e-9);
    });
    for (const bond of topology.bonds)
      expect(distance(after, bond.from, bond.to)).toBeCloseTo(distance(before, bond.from, bond.to), 10);
    for (let centre = 0; centre < topology.atomCount; centre++) {
      const around = topology.neighbours[centre];
      for (let i = 0; i < around.length; i++)
        for (let j = i + 1; j < around.length; j++)
          expect(angle(after, around[i], centre, around[j])).toBeCloseTo(
            angle(before, around[i], centre, around[j]),
            10,
          );
    }
    // Something did move: the dihedrals were not already at their targets.
    expect(Math.max(...Array.from(after, (value, index) => Math.abs(value - before[index])))).toBeGreaterThan(
      0.5,
    );
  });
});

/** A rotation matrix from an axis and an angle (Rodrigues). */
function rotation(axis: [number, number, number], theta: number): number[] {
  const length = Math.hypot(...axis);
  const [x, y, z] = axis.map((value) => value / length);
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  const t = 1 - c;
  return [t * x * x + c, t * x * y - s * z, t * x * z + s * y, t * x * y + s * z, t * y * y + c, t * y * z - s * x, t * x * z - s * y, t * y * z + s * x, t * z * z + c]; // prettier-ignore
}

function transform(
  coordinates: Float64Array,
  matrix: number[],
  shift: [number, number, number],
): Float64Array {
  const out = new Float64Array(coordinates.length);
  for (let atom = 0; atom < coordinates.length / 3; atom++)
    for (let r = 0; r < 3; r++)
      out[3 * atom + r] =
        matrix[3 * r] * coordinates[3 * atom] +
        matrix[3 * r + 1] * coordinates[3 * atom + 1] +
        matrix[3 * r + 2] * coordinates[3 * atom + 2] +
        shift[r];
  return out;
}

describe('RMSD with superposition and symmetry', () => {
  it('is zero for a rotated and translated copy, and recovers the rotation', () => {
    const [conformer] = embedConformers('CC(C)Cc1ccc(cc1)C(C)C(=O)O', 1, 5);
    const topology = topologyFromOcl(conformer);
    const graph = heavyAtomGraph(topology);
    const x = coordinatesFromOcl(conformer);
    const matrix = rotation([0.3, -1, 2], 2.2);
    const y = transform(x, matrix, [5, -3, 11]);
    const cx = centredHeavyAtoms(x, graph);
    const cy = centredHeavyAtoms(y, graph);
    expect(superposedRmsd(cx, cy)).toBeLessThan(1e-6);
    const recovered = optimalRotation(cx, cy);
    recovered.forEach((value, index) => expect(value).toBeCloseTo(matrix[index], 8));
  });

  it('gives the exact RMSD of a uniform scaling and cannot superpose a mirror image', () => {
    // Scaling a centred square by (1 + s) moves every corner radially by s·r (r = corner distance): no rotation
    // does better, so the RMSD is exactly s·r.
    const square = Float64Array.from([1, 1, 0, -1, 1, 0, -1, -1, 0, 1, -1, 0]);
    const scaled = square.map((value) => value * 1.2);
    const r = Math.SQRT2;
    const pointsOf = (points: Float64Array) => ({
      points,
      sumOfSquares: points.reduce((sum, value) => sum + value * value, 0),
    });
    expect(superposedRmsd(pointsOf(square), pointsOf(scaled))).toBeCloseTo(0.2 * r, 12);
    // Mirror images cannot be superposed by rotation: a chiral tetrahedron and its reflection.
    const tetrahedron = Float64Array.from([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    const centred = (points: Float64Array) => {
      const centre = [0, 1, 2].map((k) => (points[k] + points[3 + k] + points[6 + k] + points[9 + k]) / 4);
      return pointsOf(points.map((value, index) => value - centre[index % 3]));
    };
    const mirrored = tetrahedron.map((value, index) => (index % 3 === 0 ? -value : value));
    expect(superposedRmsd(centred(tetrahedron), centred(mirrored))).toBeGreaterThan(0.1);
  });

  it('counts graph automorphisms exactly and uses them', async () => {
    const automorphisms = async (smiles: string) => {
      const graph = heavyAtomGraph(await topologyOf(smiles));
      return graphIsomorphisms(graph, graph).length;
    };
    expect(await automorphisms('CC(C)(C)C')).toBe(24); // neopentane: S4 on the methyls
    expect(await automorphisms('c1ccccc1')).toBe(12); // D6h acting on the ring graph
    expect(await automorphisms('Cc1ccccc1')).toBe(2);
    // Conjugated terminal O/N are symmetrized as in RDKit's GetBestRMS: the two oxygens of an acid swap.
    expect(await automorphisms('CC(=O)O')).toBe(2);
    expect(await automorphisms('CC(=O)[O-]')).toBe(2);
    expect(await automorphisms('C[N+](=O)[O-]')).toBe(2);
    expect(await automorphisms('CC(=O)OC')).toBe(1); // an ester's oxygens are not both terminal
    expect(await automorphisms('OCC(O)CO')).toBe(2);

    // Relabelling atoms changes the plain RMSD but not the symmetric one.
    const [conformer] = embedConformers('CC(C)(C)CO', 1, 9);
    const topology = topologyFromOcl(conformer);
    const graph = heavyAtomGraph(topology);
    const x = coordinatesFromOcl(conformer);
    const methyls = graph.neighbours[1].filter((other) => graph.neighbours[other].length === 1);
    expect(methyls.length).toBe(3);
    const swapped = Float64Array.from(x);
    const [a, b] = methyls.map((index) => graph.atoms[index]);
    for (let k = 0; k < 3; k++) [swapped[3 * a + k], swapped[3 * b + k]] = [x[3 * b + k], x[3 * a + k]];
    const symmetric = new SymmetricRmsd(graph);
    expect(superposedRmsd(symmetric.centreFirst(x), symmetric.centreFirst(swapped))).toBeGreaterThan(0.5);
    expect(symmetric.rmsd(symmetric.centreFirst(x), symmetric.centreFirst(swapped))).toBeLessThan(1e-6);
  });
});
