/**
 * Heavy-atom RMSD after optimal superposition, minimised over the symmetries of the molecular graph
 * (DESIGN.md §4 "RMSD diversity", "COV/MAT"): what RDKit's rdMolAlign.GetBestRMS computes, the RMSD used by
 * GeoMol (Ganea et al. 2021) and GeoDiff (Xu et al. 2022) for their coverage and matching scores.
 *
 * For one atom correspondence π, RMSD(X, Y) = min over rotations R and translations t of
 * sqrt(1/N Σ_i |R x_i + t − y_π(i)|²). The optimum centres both sets and takes the rotation from the largest
 * eigenvalue λ_max of Horn's 4×4 quaternion matrix built from the cross-covariance M = Σ x_i y_π(i)ᵀ
 * (Horn 1987, J. Opt. Soc. Am. A 4:629; Coutsias et al. 2004, J. Comput. Chem. 25:1849, the quaternion form of
 * Kabsch's solution): RMSD² = (Σ|x_i|² + Σ|y_i|² − 2 λ_max) / N. The symmetric RMSD is the minimum over all
 * graph isomorphisms π between the two heavy-atom graphs (atoms matched on element, charge and aromaticity,
 * bonds on order or aromaticity), enumerated by backtracking up to a bound (RDKit's maxMatches plays the same
 * role). As in GetBestRMS's default symmetrizeConjugatedTerminalGroups (RDKit ≥ 2022.03,
 * MolAlign::details::symmetrizeTerminalAtoms), terminal O/N atoms of conjugated groups such as C(=O)O⁻,
 * C(=O)OH and N(=O)=O match regardless of charge and of single/double bond order, so swapping the two
 * oxygens of a carboxylic acid is a symmetry.
 */
import type { MoleculeTopology } from './structure';

/** The heavy-atom graph, relabelled 0…n−1 in the order of `topology.heavyAtoms`. */
export interface HeavyAtomGraph {
  readonly size: number;
  /** Index into the full (hydrogen-including) atom list for each heavy atom. */
  readonly atoms: Int32Array;
  readonly labels: readonly string[];
  readonly neighbours: readonly (readonly number[])[];
  /**
   * bondLabel[i * size + j]: 0 when i and j are not bonded, else 1, 2, 3, 4 (aromatic) or 5 (single or double
   * at a symmetrized conjugated terminal atom).
   */
  readonly bondLabel: Uint8Array;
}

export function heavyAtomGraph(topology: MoleculeTopology): HeavyAtomGraph {
  const atoms = Int32Array.from(topology.heavyAtoms);
  const size = atoms.length;
  const indexOf = new Map<number, number>();
  atoms.forEach((atom, index) => indexOf.set(atom, index));
  const bondLabel = new Uint8Array(size * size);
  const neighbours: number[][] = Array.from({ length: size }, () => []);
  for (const bond of topology.bonds) {
    const i = indexOf.get(bond.from);
    const j = indexOf.get(bond.to);
    if (i === undefined || j === undefined) continue;
    const label = bond.aromatic ? 4 : bond.order;
    bondLabel[i * size + j] = label;
    bondLabel[j * size + i] = label;
    neighbours[i].push(j);
    neighbours[j].push(i);
  }
  const terminal = conjugatedTerminalAtoms(size, atoms, neighbours, bondLabel, topology);
  for (const index of terminal) {
    const centre = neighbours[index][0];
    bondLabel[index * size + centre] = 5;
    bondLabel[centre * size + index] = 5;
  }
  const labels = Array.from(atoms, (atom, index) => {
    const charge = terminal.has(index) ? '*' : String(topology.charges[atom]);
    return `${topology.atomicNumbers[atom]}/${charge}/${topology.aromaticAtoms[atom]}/${neighbours[index].length}`;
  });
  return { size, atoms, labels, neighbours, bondLabel };
}

/**
 * Heavy-atom indices matching RDKit's [O,N;D1;$([O,N;D1]-[*]=[O,N;D1]),$([O,N;D1]=[*]-[O,N;D1])]: a terminal O
 * or N whose neighbour holds another terminal O or N by the other of single/double bond.
 */
function conjugatedTerminalAtoms(
  size: number,
  atoms: Int32Array,
  neighbours: number[][],
  bondLabel: Uint8Array,
  topology: MoleculeTopology,
): Set<number> {
  const isTerminalON = (index: number) =>
    neighbours[index].length === 1 && [7, 8].includes(topology.atomicNumbers[atoms[index]]);
  const found = new Set<number>();
  for (let index = 0; index < size; index++) {
    if (!isTerminalON(index)) continue;
    const centre = neighbours[index][0];
    const own = bondLabel[index * size + centre];
    if (own !== 1 && own !== 2) continue;
    const wanted = own === 1 ? 2 : 1;
    if (
      neighbours[centre].some(
        (other) => other !== index && isTerminalON(other) && bondLabel[centre * size + other] === wanted,
      )
    )
      found.add(index);
  }
  return found;
}

/**
 * Atom maps π (π[i] = atom of `target` matched to atom i of `query`) that preserve labels and bonds, at most
 * `limit` of them. With query = target these are the automorphisms (the identity first when the labelling
 * allows it). Throws if the graphs are not isomorphic.
 */
export function graphIsomorphisms(
  query: HeavyAtomGraph,
  target: HeavyAtomGraph,
  limit = 10_000,
): Int32Array[] {
  const n = query.size;
  if (n !== target.size) throw new Error(`graphs differ in size (${n} vs ${target.size} heavy atoms)`);
  // Visit query atoms in breadth-first order, so that each new atom (after the first of its component) has an
  // already-mapped neighbour and the candidates are few.
  const order: number[] = [];
  const seen = new Uint8Array(n);
  for (let root = 0; root < n; root++) {
    if (seen[root]) continue;
    seen[root] = 1;
    const queue = [root];
    while (queue.length > 0) {
      const atom = queue.shift()!;
      order.push(atom);
      for (const other of query.neighbours[atom])
        if (!seen[other]) {
          seen[other] = 1;
          queue.push(other);
        }
    }
  }
  const mapping = new Int32Array(n).fill(-1);
  const used = new Uint8Array(n);
  const found: Int32Array[] = [];

  const consistent = (queryAtom: number, targetAtom: number): boolean => {
    if (used[targetAtom] || query.labels[queryAtom] !== target.labels[targetAtom]) return false;
    for (const other of query.neighbours[queryAtom]) {
      const mapped = mapping[other];
      if (mapped >= 0 && target.bondLabel[targetAtom * n + mapped] !== query.bondLabel[queryAtom * n + other])
        return false;
    }
    return true;
  };

  const extend = (depth: number): void => {
    if (found.length >= limit) return;
    if (depth === n) {
      found.push(mapping.slice());
      return;
    }
    const queryAtom = order[depth];
    const anchor = query.neighbours[queryAtom].find((other) => mapping[other] >= 0);
    const candidates = anchor === undefined ? [...Array(n).keys()] : target.neighbours[mapping[anchor]];
    for (const targetAtom of candidates) {
      if (!consistent(queryAtom, targetAtom)) continue;
      mapping[queryAtom] = targetAtom;
      used[targetAtom] = 1;
      extend(depth + 1);
      used[targetAtom] = 0;
      mapping[queryAtom] = -1;
    }
  };
  extend(0);
  if (found.length === 0) throw new Error('the two molecules are not the same heavy-atom graph');
  return found;
}

/** Heavy-atom coordinates, centred at their centroid, plus Σ|x|². */
export interface CentredPoints {
  readonly points: Float64Array;
  readonly sumOfSquares: number;
}

export function centredHeavyAtoms(coordinates: Float64Array, graph: HeavyAtomGraph): CentredPoints {
  const n = graph.size;
  const points = new Float64Array(3 * n);
  const centre = [0, 0, 0];
  for (let i = 0; i < n; i++)
    for (let k = 0; k < 3; k++) {
      points[3 * i + k] = coordinates[3 * graph.atoms[i] + k];
      centre[k] += points[3 * i + k] / n;
    }
  let sumOfSquares = 0;
  for (let i = 0; i < n; i++)
    for (let k = 0; k < 3; k++) {
      points[3 * i + k] -= centre[k];
      sumOfSquares += points[3 * i + k] ** 2;
    }
  return { points, sumOfSquares };
}

/** Horn's symmetric 4×4 matrix of the cross-covariance M (row-major, 16 entries). */
function hornMatrix(m: Float64Array): Float64Array {
  const [sxx, sxy, sxz, syx, syy, syz, szx, szy, szz] = m;
  return Float64Array.from([
    sxx + syy + szz, syz - szy, szx - sxz, sxy - syx,
    syz - szy, sxx - syy - szz, sxy + syx, szx + sxz,
    szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy,
    sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz,
  ]); // prettier-ignore
}

/** Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric 4×4 matrix by cyclic Jacobi rotations. */
function symmetricEigen4(input: Float64Array): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = Float64Array.from([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  for (let sweep = 0; sweep < 50; sweep++) {
    let offDiagonal = 0;
    for (let p = 0; p < 4; p++) for (let q = p + 1; q < 4; q++) offDiagonal += a[p * 4 + q] ** 2;
    if (offDiagonal < 1e-22) break;
    for (let p = 0; p < 4; p++)
      for (let q = p + 1; q < 4; q++) {
        const apq = a[p * 4 + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * 4 + q] - a[p * 4 + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < 4; k++) {
          const akp = a[k * 4 + p];
          const akq = a[k * 4 + q];
          a[k * 4 + p] = c * akp - s * akq;
          a[k * 4 + q] = s * akp + c * akq;
        }
        for (let k = 0; k < 4; k++) {
          const apk = a[p * 4 + k];
          const aqk = a[q * 4 + k];
          a[p * 4 + k] = c * apk - s * aqk;
          a[q * 4 + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 4; k++) {
          const vkp = v[k * 4 + p];
          const vkq = v[k * 4 + q];
          v[k * 4 + p] = c * vkp - s * vkq;
          v[k * 4 + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Float64Array.from([a[0], a[5], a[10], a[15]]), vectors: v };
}

function crossCovariance(x: Float64Array, y: Float64Array, mapping: Int32Array | undefined): Float64Array {
  const m = new Float64Array(9);
  const n = x.length / 3;
  for (let i = 0; i < n; i++) {
    const j = mapping ? mapping[i] : i;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) m[r * 3 + c] += x[3 * i + r] * y[3 * j + c];
  }
  return m;
}

/**
 * RMSD of centred point sets after the optimal rotation, with x_i matched to y_mapping[i] (identity when no
 * mapping is given).
 */
export function superposedRmsd(x: CentredPoints, y: CentredPoints, mapping?: Int32Array): number {
  const n = x.points.length / 3;
  const { values } = symmetricEigen4(hornMatrix(crossCovariance(x.points, y.points, mapping)));
  const largest = Math.max(...values);
  return Math.sqrt(Math.max(0, (x.sumOfSquares + y.sumOfSquares - 2 * largest) / n));
}

/**
 * The rotation (row-major 3×3) that best superposes centred x onto centred y (x_i → y_mapping[i]); apply it as
 * R x_i. From the eigenvector q = (q0, q1, q2, q3) of λ_max (Horn 1987, eq. for R(q)).
 */
export function optimalRotation(x: CentredPoints, y: CentredPoints, mapping?: Int32Array): Float64Array {
  const { values, vectors } = symmetricEigen4(hornMatrix(crossCovariance(x.points, y.points, mapping)));
  let best = 0;
  for (let k = 1; k < 4; k++) if (values[k] > values[best]) best = k;
  const [q0, q1, q2, q3] = [0, 1, 2, 3].map((row) => vectors[row * 4 + best]);
  return Float64Array.from([
    q0 * q0 + q1 * q1 - q2 * q2 - q3 * q3, 2 * (q1 * q2 - q0 * q3), 2 * (q1 * q3 + q0 * q2),
    2 * (q1 * q2 + q0 * q3), q0 * q0 - q1 * q1 + q2 * q2 - q3 * q3, 2 * (q2 * q3 - q0 * q1),
    2 * (q1 * q3 - q0 * q2), 2 * (q2 * q3 + q0 * q1), q0 * q0 - q1 * q1 - q2 * q2 + q3 * q3,
  ]); // prettier-ignore
}

/**
 * Symmetry-aware heavy-atom RMSD between conformers of one molecule, or of two atom orderings of the same
 * molecule (e.g. ours and RDKit's): precomputes the heavy-atom graphs and their isomorphisms once. At most
 * `maxMappings` isomorphisms are used (1000 by default: every RMSD costs one superposition per mapping, and
 * four tert-butyl groups already have 6⁴ = 1296); when `truncated`, an RMSD is an upper bound of the true one.
 */
export class SymmetricRmsd {
  readonly mappings: readonly Int32Array[];
  readonly truncated: boolean;

  constructor(
    readonly first: HeavyAtomGraph,
    readonly second: HeavyAtomGraph = first,
    maxMappings = 1000,
  ) {
    this.mappings = graphIsomorphisms(first, second, maxMappings);
    this.truncated = this.mappings.length >= maxMappings;
  }

  /** min over isomorphisms π of the superposed RMSD between x (first's atoms) and y (second's atoms). */
  rmsd(x: CentredPoints, y: CentredPoints): number {
    let best = Infinity;
    for (const mapping of this.mappings) best = Math.min(best, superposedRmsd(x, y, mapping));
    return best;
  }

  centreFirst(coordinates: Float64Array): CentredPoints {
    return centredHeavyAtoms(coordinates, this.first);
  }

  centreSecond(coordinates: Float64Array): CentredPoints {
    return centredHeavyAtoms(coordinates, this.second);
  }

  /** The full matrix D[i][j] = RMSD(firsts[i], seconds[j]) (rows: first ensemble). */
  matrix(firsts: readonly Float64Array[], seconds: readonly Float64Array[]): Float64Array[] {
    const x = firsts.map((c) => this.centreFirst(c));
    const y = seconds.map((c) => this.centreSecond(c));
    return x.map((xi) => Float64Array.from(y, (yj) => this.rmsd(xi, yj)));
  }
}
