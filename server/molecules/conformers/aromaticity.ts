/**
 * RDKit's aromaticity on an OpenChemLib topology. OpenChemLib and RDKit perceive most rings alike, but RDKit
 * also calls rings with an exocyclic C=O / C=S aromatic when the electron count allows (2-pyridones,
 * pyrimidinones, quinazolinones), which OpenChemLib does not. The strict rotatable-bond SMARTS distinguishes
 * aromatic from aliphatic atoms, so without this step 7 of 401 ZINC molecules got one rotatable bond fewer
 * than RDKit counts (test/conformers/torsions.test.ts). The molecule goes to RDKit MinimalLib as a molblock in
 * our atom order; OpenChemLib keeps hydrogens after all heavy atoms, so RDKit's atom indices (hydrogens folded
 * away) are our heavy-atom indices.
 */
import { loadRDKit, moleculeGraph, parseMolblockToMol } from '../rdkit';
import { sdfRecord } from './sdf';
import type { MoleculeTopology } from './structure';

export async function withRdkitAromaticity(topology: MoleculeTopology): Promise<MoleculeTopology> {
  const heavyCount = topology.heavyAtoms.length;
  if (topology.heavyAtoms.some((atom, index) => atom !== index))
    throw new Error('withRdkitAromaticity: hydrogens must follow all heavy atoms (OpenChemLib atom order)');
  const rdkit = await loadRDKit();
  const molblock = sdfRecord(topology, {
    name: '',
    coordinates: new Float64Array(3 * topology.atomCount),
  }).replace(/\$\$\$\$\n$/, '');
  const mol = parseMolblockToMol(rdkit, molblock);
  let graph;
  try {
    graph = moleculeGraph(mol);
  } finally {
    mol.delete();
  }
  if (graph.atoms.length !== heavyCount)
    throw new Error(`withRdkitAromaticity: RDKit kept ${graph.atoms.length} of ${heavyCount} heavy atoms`);
  const aromaticAtoms = new Uint8Array(topology.atomCount);
  graph.atoms.forEach((atom, index) => (aromaticAtoms[index] = atom.aromatic ? 1 : 0));
  const aromaticPairs = new Set(
    graph.bonds
      .filter((bond) => bond.type === 12)
      .map((bond) => Math.min(bond.begin, bond.end) * topology.atomCount + Math.max(bond.begin, bond.end)),
  );
  const bonds = topology.bonds.map((bond) => ({
    ...bond,
    aromatic: aromaticPairs.has(
      Math.min(bond.from, bond.to) * topology.atomCount + Math.max(bond.from, bond.to),
    ),
  }));
  const byPair = new Map(
    bonds.map((bond) => [
      Math.min(bond.from, bond.to) * topology.atomCount + Math.max(bond.from, bond.to),
      bond,
    ]),
  );
  return {
    ...topology,
    aromaticAtoms,
    bonds,
    bondBetween: (a, b) => byPair.get(Math.min(a, b) * topology.atomCount + Math.max(a, b)),
  };
}
