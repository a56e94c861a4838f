/**
 * Scores of an estimated causal matrix against a ground truth (DESIGN.md §5: "one-vs-one AUROC over edge
 * signs, Pearson correlation, F1"), on off-diagonal entries only: the diagonal of every matrix here is a
 * self-decay (or 1 for total effects), not an edge.
 *
 * - `auroc`: edge presence (true entry ≠ 0) scored by |estimate|.
 * - `signAuroc`: the one-vs-one multiclass AUROC (Hand & Till 2001) over the classes −, 0, + of the true
 *   entry, scored by the signed estimate: the mean of the pairwise AUROCs (0 vs −, + vs 0, + vs −), each
 *   the probability that an entry of the higher class scores above one of the lower class.
 * - `pearson`: correlation of estimated and true entries; scale-free, as CLIPR recovers A up to a factor.
 * - `f1`: the m entries of largest |estimate| (m = number of true edges) predicted as edges; a prediction
 *   counts as correct only when the true edge exists with the same sign.
 */

export interface CausalScores {
  auroc: number;
  signAuroc: number;
  pearson: number;
  f1: number;
  edges: number;
  nonEdges: number;
}

/**
 * AUROC of `scores` for separating `positives` from `negatives` (Mann–Whitney U / (n₊n₋)), ties counted
 * half. NaN when a class is empty.
 */
export function auroc(positives: readonly number[], negatives: readonly number[]): number {
  if (positives.length === 0 || negatives.length === 0) return Number.NaN;
  const pooled = [
    ...positives.map((v) => ({ v, positive: true })),
    ...negatives.map((v) => ({ v, positive: false })),
  ];
  pooled.sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < pooled.length;) {
    let j = i;
    while (j < pooled.length && pooled[j].v === pooled[i].v) j++;
    // Tied values share the mean of ranks i+1 … j.
    const rank = (i + 1 + j) / 2;
    for (let t = i; t < j; t++) if (pooled[t].positive) rankSum += rank;
    i = j;
  }
  const n1 = positives.length;
  return (rankSum - (n1 * (n1 + 1)) / 2) / (n1 * negatives.length);
}

/** Pearson correlation; NaN when either side is constant. */
export function pearson(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  if (n !== b.length || n < 2) throw new Error('pearson needs two equally long vectors of length ≥ 2');
  const meanA = a.reduce((s, v) => s + v, 0) / n;
  const meanB = b.reduce((s, v) => s + v, 0) / n;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - meanA) * (b[i] - meanB);
    aa += (a[i] - meanA) ** 2;
    bb += (b[i] - meanB) ** 2;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : Number.NaN;
}

export function scoreCausalMatrix(
  estimate: readonly (readonly number[])[],
  truth: readonly (readonly number[])[],
): CausalScores {
  const d = truth.length;
  if (
    estimate.length !== d ||
    estimate.some((row) => row.length !== d) ||
    truth.some((row) => row.length !== d)
  ) {
    throw new Error(`estimate and truth must both be ${d} × ${d}`);
  }
  const estimated: number[] = [];
  const trueValues: number[] = [];
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++)
      if (i !== j) {
        estimated.push(estimate[i][j]);
        trueValues.push(truth[i][j]);
      }
  const byClass = { negative: [] as number[], zero: [] as number[], positive: [] as number[] };
  const present: number[] = [];
  const absent: number[] = [];
  estimated.forEach((value, e) => {
    const t = trueValues[e];
    if (t === 0) {
      byClass.zero.push(value);
      absent.push(Math.abs(value));
    } else {
      (t > 0 ? byClass.positive : byClass.negative).push(value);
      present.push(Math.abs(value));
    }
  });
  const pairwise = [
    auroc(byClass.zero, byClass.negative),
    auroc(byClass.positive, byClass.zero),
    auroc(byClass.positive, byClass.negative),
  ].filter((v) => !Number.isNaN(v));
  const signAuroc = pairwise.length > 0 ? pairwise.reduce((a, b) => a + b, 0) / pairwise.length : Number.NaN;

  const edges = present.length;
  const order = estimated.map((_, e) => e).sort((a, b) => Math.abs(estimated[b]) - Math.abs(estimated[a]));
  let truePositives = 0;
  for (const e of order.slice(0, edges)) {
    if (trueValues[e] !== 0 && Math.sign(trueValues[e]) === Math.sign(estimated[e])) truePositives++;
  }
  // With m predictions and m true edges, precision = recall = F1.
  const f1 = edges > 0 ? truePositives / edges : Number.NaN;
  return {
    auroc: auroc(present, absent),
    signAuroc,
    pearson: pearson(estimated, trueValues),
    f1,
    edges,
    nonEdges: absent.length,
  };
}
