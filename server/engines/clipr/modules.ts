/**
 * Gene modules from a causal matrix (DESIGN.md §5 "Reported: … gene modules (clustering)"): communities of
 * the undirected weighted graph W = |A| + |Aᵀ| (zero diagonal), found by greedy agglomerative modularity
 * maximisation (Clauset, Newman & Moore 2004): start with one gene per module and repeatedly merge the two
 * modules whose merge raises Newman's modularity Q = Σ_c (e_cc − a_c²) the most, ΔQ = 2(e_ab − a_a·a_b),
 * until no merge raises it (or until `modules` remain, when a count is asked for). Modules are numbered by
 * size, largest first.
 */

export interface GeneModules {
  /** Module index of each gene. */
  assignment: number[];
  /** Genes of each module, largest module first. */
  modules: number[][];
  /** Newman modularity of the partition. */
  modularity: number;
}

export function geneModules(
  matrix: readonly (readonly number[])[],
  options: { modules?: number } = {},
): GeneModules {
  const d = matrix.length;
  const weights = Array.from({ length: d }, (_, i) =>
    Array.from({ length: d }, (_, j) => (i === j ? 0 : Math.abs(matrix[i][j]) + Math.abs(matrix[j][i]))),
  );
  const total = weights.flat().reduce((a, b) => a + b, 0);
  if (!(total > 0)) {
    return {
      assignment: Array.from({ length: d }, (_, i) => i),
      modules: Array.from({ length: d }, (_, i) => [i]),
      modularity: 0,
    };
  }
  // e[a][b]: fraction of (both-direction) edge weight between modules a and b; degree[a] = Σ_b e[a][b].
  let members: number[][] = Array.from({ length: d }, (_, i) => [i]);
  let between = weights.map((row) => row.map((w) => w / total));
  let degree = between.map((row) => row.reduce((a, b) => a + b, 0));
  const target = options.modules;
  if (target !== undefined && (!Number.isInteger(target) || target < 1 || target > d)) {
    throw new Error(`modules must be an integer in [1, ${d}], got ${target}`);
  }

  while (members.length > 1) {
    let best = { gain: Number.NEGATIVE_INFINITY, a: -1, b: -1 };
    for (let a = 0; a < members.length; a++)
      for (let b = a + 1; b < members.length; b++) {
        const gain = 2 * (between[a][b] - degree[a] * degree[b]);
        if (gain > best.gain) best = { gain, a, b };
      }
    const mustMerge = target !== undefined && members.length > target;
    if (!mustMerge && (target !== undefined || best.gain <= 0)) break;
    const { a, b } = best;
    members[a] = [...members[a], ...members[b]];
    between = between.map((row) => {
      const merged = [...row];
      merged[a] += merged[b];
      merged.splice(b, 1);
      return merged;
    });
    between[a] = between[a].map((value, c) => value + between[b][c]);
    between.splice(b, 1);
    degree = between.map((row) => row.reduce((x, y) => x + y, 0));
    members = members.filter((_, index) => index !== b);
  }

  members.sort((x, y) => y.length - x.length || x[0] - y[0]);
  const assignment = new Array<number>(d).fill(0);
  members.forEach((genes, index) => genes.forEach((gene) => (assignment[gene] = index)));
  return {
    assignment,
    modules: members.map((genes) => [...genes].sort((x, y) => x - y)),
    modularity: modularity(weights, assignment, total),
  };
}

/** Q = Σ_ij (W_ij/2m − k_i k_j/(2m)²)·[c_i = c_j] with 2m = Σ_ij W_ij. */
function modularity(weights: number[][], assignment: number[], total: number): number {
  const strength = weights.map((row) => row.reduce((a, b) => a + b, 0));
  let q = 0;
  for (let i = 0; i < weights.length; i++)
    for (let j = 0; j < weights.length; j++)
      if (assignment[i] === assignment[j])
        q += weights[i][j] / total - (strength[i] * strength[j]) / (total * total);
  return q;
}
