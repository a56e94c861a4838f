/**
 * RDKit's unfolded Morgan count fingerprint (rdMolDescriptors.GetMorganFingerprint(mol, radius): 32-bit
 * environment identifiers with counts), reimplemented because MinimalLib only returns folded bit vectors and
 * the SA score looks identifiers up in a table keyed by the unfolded values.
 *
 * Algorithm: Rogers & Hahn, "Extended-Connectivity Fingerprints", J. Chem. Inf. Model. 50, 742 (2010), in
 * RDKit's variant (Code/GraphMol/Fingerprints/MorganFingerprints.cpp): connectivity invariants, neighbour
 * lists sorted by (bond type, invariant), duplicate bond environments dropped, hashing with the 32-bit
 * boost::hash_combine RDKit ships in RDGeneral/hash. Identical identifiers to RDKit are required, so every
 * step follows RDKit exactly; the test suite compares against RDKit on thousands of molecules.
 */
import type { MoleculeGraph } from './rdkit';

/** boost::hash_combine on a 32-bit seed: seed ^= v + 0x9e3779b9 + (seed << 6) + (seed >> 2), all mod 2³². */
function hashCombine(seed: number, value: number): number {
  return (seed ^ ((value + 0x9e3779b9 + ((seed << 6) >>> 0) + (seed >>> 2)) >>> 0)) >>> 0;
}

/** boost::hash of a vector of 32-bit values: hash_combine over the elements from seed 0. */
function hashVector(values: readonly number[]): number {
  let seed = 0;
  for (const value of values) seed = hashCombine(seed, value >>> 0);
  return seed;
}

/** boost::hash of std::pair<int32, uint32>: hash_combine(hash_combine(0, first), second). */
function hashPair(first: number, second: number): number {
  return hashCombine(hashCombine(0, first >>> 0), second >>> 0);
}

/**
 * RDKit's atom invariants for Morgan fingerprints (getConnectivityInvariants with ring membership):
 * hash of [atomic number, total degree, total H, formal charge, Δmass, (1 if in a ring)], where Δmass is
 * int(mass − average atomic weight), non-zero only for some isotopes.
 */
export function connectivityInvariants(
  graph: MoleculeGraph,
  deltaMass: (atomIndex: number) => number = () => 0,
): number[] {
  const inRing = new Uint8Array(graph.atoms.length);
  for (const ring of graph.atomRings) for (const atom of ring) inRing[atom] = 1;
  return graph.atoms.map((atom, index) => {
    // RDKit counts hydrogens as getTotalNumHs(includeNeighbors=true): explicit H atoms (e.g. [2H]) count too.
    let hydrogenNeighbours = 0;
    for (const bondIndex of graph.atomBonds[index]) {
      const bond = graph.bonds[bondIndex];
      if (graph.atoms[bond.begin === index ? bond.end : bond.begin].atomicNumber === 1) hydrogenNeighbours++;
    }
    const components = [
      atom.atomicNumber,
      graph.atomBonds[index].length + atom.hydrogens,
      atom.hydrogens + hydrogenNeighbours,
      atom.formalCharge,
      deltaMass(index),
    ];
    if (inRing[index]) components.push(1);
    return hashVector(components);
  });
}

/**
 * Unfolded Morgan fingerprint as identifier → count (RDKit GetMorganFingerprint(mol, radius), without
 * chirality, with bond types). `invariants` defaults to the connectivity invariants.
 */
export function morganCounts(
  graph: MoleculeGraph,
  radius: number,
  invariants: number[] = connectivityInvariants(graph),
): Map<number, number> {
  const atomCount = graph.atoms.length;
  const words = Math.max(1, Math.ceil(graph.bonds.length / 32));
  const counts = new Map<number, number>();
  // RDKit stores the result in a SparseIntVect of length 2³²−1 and reduces identifiers modulo that length.
  const add = (identifier: number) => {
    const key = identifier % 0xffffffff;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  let current = invariants.slice();
  current.forEach(add);

  // Each atom's environment is the set of bonds within `layer` bonds of it, kept as a bit set.
  let neighbourhoods = Array.from({ length: atomCount }, () => new Uint32Array(words));
  // An atom without bonds has the empty environment from the start; RDKit never adds it beyond radius 0.
  const seenEnvironments = new Set<string>([new Uint32Array(words).join(',')]);
  const dead = new Uint8Array(atomCount);
  for (let layer = 0; layer < radius; layer++) {
    const next = current.slice();
    const nextNeighbourhoods = neighbourhoods.map((bits) => bits.slice());
    const thisRound: { key: string; invariant: number; atom: number }[] = [];
    for (let atom = 0; atom < atomCount; atom++) {
      if (dead[atom]) continue;
      const environment = nextNeighbourhoods[atom];
      const neighbours: [number, number][] = [];
      for (const bondIndex of graph.atomBonds[atom]) {
        const bond = graph.bonds[bondIndex];
        const other = bond.begin === atom ? bond.end : bond.begin;
        environment[bondIndex >>> 5] |= 1 << (bondIndex & 31);
        const otherBits = neighbourhoods[other];
        for (let w = 0; w < words; w++) environment[w] |= otherBits[w];
        neighbours.push([bond.type, current[other]]);
      }
      // std::sort on pair<int32, uint32>: by bond type, then by invariant.
      neighbours.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
      let invariant = hashCombine(layer, current[atom]);
      for (const [bondType, neighbourInvariant] of neighbours) {
        invariant = hashCombine(invariant, hashPair(bondType, neighbourInvariant));
      }
      next[atom] = invariant;
      const key = environment.join(',');
      thisRound.push({ key, invariant, atom });
      if (seenEnvironments.has(key)) dead[atom] = 1;
    }
    // Among atoms with the same environment this round, RDKit keeps the one sorting first: the smallest
    // invariant (the tuples are sorted by environment, then invariant, then atom index).
    thisRound.sort((x, y) =>
      x.key < y.key ? -1 : x.key > y.key ? 1 : x.invariant - y.invariant || x.atom - y.atom,
    );
    for (const entry of thisRound) {
      if (seenEnvironments.has(entry.key)) {
        dead[entry.atom] = 1;
      } else {
        add(entry.invariant);
        seenEnvironments.add(entry.key);
      }
    }
    current = next;
    neighbourhoods = nextNeighbourhoods;
  }
  return counts;
}

/**
 * Symmetry classes by iterative refinement (1-dimensional Weisfeiler–Lehman): atoms start from their
 * connectivity invariants and are refined with their neighbours' classes and bond types until the partition
 * stops changing. Two atoms share a class iff refinement cannot tell them apart, which for molecular graphs
 * is (up to rare regular-graph cases) topological equivalence, the test RDKit's CIP ranks make when asking
 * whether a centre's neighbours are all different.
 */
export function symmetryClasses(graph: MoleculeGraph): number[] {
  const atomCount = graph.atoms.length;
  const withIsotopes = connectivityInvariants(graph, (atom) => graph.atoms[atom].isotope);
  let classes = relabel(withIsotopes);
  for (let round = 0; round < atomCount; round++) {
    const signatures = classes.map((own, atom) => {
      const neighbours = graph.atomBonds[atom]
        .map((bondIndex) => {
          const bond = graph.bonds[bondIndex];
          return `${bond.type}:${classes[bond.begin === atom ? bond.end : bond.begin]}`;
        })
        .sort();
      return `${own}|${neighbours.join(',')}`;
    });
    const refined = relabel(signatures);
    const before = new Set(classes).size;
    classes = refined;
    if (new Set(refined).size === before) break;
  }
  return classes;
}

function relabel<T extends string | number>(values: T[]): number[] {
  const sorted = [...new Set(values)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const label = new Map(sorted.map((value, index) => [value, index]));
  return values.map((value) => label.get(value)!);
}
