/**
 * Two-dimensional toy densities for the flow dashboard and for exact checks (DESIGN.md §1, §2 "Exact
 * checks": 2-D targets computed on a grid). Each has a seeded sampler; where the density has a closed
 * form it also has an exact log-density, so a trained flow's likelihood can be compared with the truth.
 *
 * All are scaled to lie roughly within [−4, 4]², comparable to the N(0, I) noise the flows start from.
 */
import type { Rng } from '../random';

export const toyDensityNames = ['moons', 'rings', 'gaussian-mixture', 'checkerboard', 'swiss-roll'] as const;
export type ToyDensityName = (typeof toyDensityNames)[number];

export function isToyDensityName(name: string): name is ToyDensityName {
  return (toyDensityNames as readonly string[]).includes(name);
}

interface ToyDensity {
  /** One sample (x, y). */
  sample(rng: Rng): [number, number];
  /** Exact natural-log density at (x, y), −Infinity off the support; absent when there is no closed form. */
  logDensity?(x: number, y: number): number;
  /** A box holding essentially all the mass, for plots and grids. */
  bounds: { xMin: number; xMax: number; yMin: number; yMax: number };
}

const LOG_2PI = Math.log(2 * Math.PI);

/** log Σ exp(a_i), stable. */
function logSumExp(values: number[]): number {
  const max = Math.max(...values);
  if (max === -Infinity) return -Infinity;
  return max + Math.log(values.reduce((sum, v) => sum + Math.exp(v - max), 0));
}

/** log N(r; μ, s²) in one dimension. */
function logNormal1d(r: number, mean: number, sd: number): number {
  return -0.5 * ((r - mean) / sd) ** 2 - Math.log(sd) - 0.5 * LOG_2PI;
}

/**
 * Two interleaved half circles (scikit-learn's make_moons, noise 0.1 per coordinate), centred and
 * scaled by 2. The density is a convolution of arcs with a Gaussian: no closed form, sampler only.
 */
const moons: ToyDensity = {
  sample(rng) {
    const angle = Math.PI * rng.uniform();
    const upper = rng.uniform() < 0.5;
    const x = upper ? Math.cos(angle) : 1 - Math.cos(angle);
    const y = upper ? Math.sin(angle) : 0.5 - Math.sin(angle);
    const noise = 0.1;
    return [2 * (x - 0.5 + noise * rng.normal()), 2 * (y - 0.25 + noise * rng.normal())];
  },
  bounds: { xMin: -3.5, xMax: 3.5, yMin: -2.5, yMax: 2.5 },
};

/**
 * Three concentric rings. Generative process: ring k (radius R_k) with probability w_k ∝ R_k (uniform
 * along the total circumference), radius r = |R_k + s·ξ| with ξ ~ N(0, 1), angle uniform. Hence, in polar
 * coordinates with Jacobian r, the exact density is
 *     p(x) = Σ_k w_k · [N(r; R_k, s²) + N(−r; R_k, s²)] / (2π r).
 */
const ringRadii = [1, 2, 3];
const ringNoise = 0.1;
const ringWeights = ringRadii.map((r) => r / ringRadii.reduce((a, b) => a + b, 0));
const rings: ToyDensity = {
  sample(rng) {
    let u = rng.uniform();
    let k = 0;
    while (k < ringRadii.length - 1 && u >= ringWeights[k]) u -= ringWeights[k++];
    const r = Math.abs(ringRadii[k] + ringNoise * rng.normal());
    const angle = 2 * Math.PI * rng.uniform();
    return [r * Math.cos(angle), r * Math.sin(angle)];
  },
  logDensity(x, y) {
    const r = Math.hypot(x, y);
    if (r === 0) return -Infinity; // the folded radial density vanishes at 0 faster than 1/r grows
    const terms = ringRadii.flatMap((radius, k) => [
      Math.log(ringWeights[k]) + logNormal1d(r, radius, ringNoise),
      Math.log(ringWeights[k]) + logNormal1d(-r, radius, ringNoise),
    ]);
    return logSumExp(terms) - Math.log(2 * Math.PI * r);
  },
  bounds: { xMin: -3.6, xMax: 3.6, yMin: -3.6, yMax: 3.6 },
};

/** Eight equally weighted isotropic Gaussians (sd 0.3) centred on a circle of radius 3: exact density. */
const mixtureComponents = 8;
const mixtureRadius = 3;
const mixtureSd = 0.3;
const mixtureCentres = Array.from({ length: mixtureComponents }, (_, k) => {
  const angle = (2 * Math.PI * k) / mixtureComponents;
  return [mixtureRadius * Math.cos(angle), mixtureRadius * Math.sin(angle)] as const;
});
const gaussianMixture: ToyDensity = {
  sample(rng) {
    const [cx, cy] = mixtureCentres[rng.int(mixtureComponents)];
    return [cx + mixtureSd * rng.normal(), cy + mixtureSd * rng.normal()];
  },
  logDensity(x, y) {
    const terms = mixtureCentres.map(
      ([cx, cy]) =>
        -Math.log(mixtureComponents) + logNormal1d(x, cx, mixtureSd) + logNormal1d(y, cy, mixtureSd),
    );
    return logSumExp(terms);
  },
  bounds: { xMin: -4.5, xMax: 4.5, yMin: -4.5, yMax: 4.5 },
};

/**
 * A 4×4 checkerboard of 2×2 squares on [−4, 4]², the 8 squares with ⌊x/2⌋ + ⌊y/2⌋ even filled
 * uniformly: exact density 1/(8·4) = 1/32 on them, 0 elsewhere.
 */
const checkerSquare = 2;
const checkerHalfWidth = 4;
const checkerFilledCells: [number, number][] = [];
for (let i = -2; i < 2; i++)
  for (let j = -2; j < 2; j++) if ((((i + j) % 2) + 2) % 2 === 0) checkerFilledCells.push([i, j]);
const checkerboard: ToyDensity = {
  sample(rng) {
    const [i, j] = checkerFilledCells[rng.int(checkerFilledCells.length)];
    return [checkerSquare * (i + rng.uniform()), checkerSquare * (j + rng.uniform())];
  },
  logDensity(x, y) {
    if (Math.abs(x) >= checkerHalfWidth || Math.abs(y) >= checkerHalfWidth) return -Infinity;
    const cell = Math.floor(x / checkerSquare) + Math.floor(y / checkerSquare);
    const filled = ((cell % 2) + 2) % 2 === 0;
    return filled ? -Math.log(checkerFilledCells.length * checkerSquare * checkerSquare) : -Infinity;
  },
  bounds: { xMin: -4.5, xMax: 4.5, yMin: -4.5, yMax: 4.5 },
};

/**
 * scikit-learn's 2-D swiss roll: s = 1.5π(1 + 2u), (s·cos s, s·sin s), noise 0.5, scaled by 1/4. The
 * density along the spiral has no convenient closed form: sampler only.
 */
const swissRoll: ToyDensity = {
  sample(rng) {
    const s = 1.5 * Math.PI * (1 + 2 * rng.uniform());
    const noise = 0.5;
    return [(s * Math.cos(s) + noise * rng.normal()) / 4, (s * Math.sin(s) + noise * rng.normal()) / 4];
  },
  bounds: { xMin: -3.5, xMax: 4, yMin: -3.5, yMax: 4 },
};

const densities: Record<ToyDensityName, ToyDensity> = {
  moons,
  rings,
  'gaussian-mixture': gaussianMixture,
  checkerboard,
  'swiss-roll': swissRoll,
};

function lookup(name: ToyDensityName): ToyDensity {
  const density = densities[name];
  if (!density)
    throw new Error(`unknown toy density "${String(name)}" (known: ${toyDensityNames.join(', ')})`);
  return density;
}

/** n samples, row-major n×2. */
export function sampleToy(name: ToyDensityName, n: number, rng: Rng): Float32Array {
  const density = lookup(name);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [x, y] = density.sample(rng);
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

export function hasToyLogDensity(name: ToyDensityName): boolean {
  return lookup(name).logDensity !== undefined;
}

/**
 * Exact log-density at row-major n×2 points (−Infinity off the support), or undefined for densities
 * without a closed form (moons, swiss-roll).
 */
export function toyLogDensity(name: ToyDensityName, points: ArrayLike<number>): Float64Array | undefined {
  const density = lookup(name);
  if (!density.logDensity) return undefined;
  const n = Math.floor(points.length / 2);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = density.logDensity(points[2 * i], points[2 * i + 1]);
  return out;
}

/** The plotting / grid box of a density. */
export function toyBounds(name: ToyDensityName): { xMin: number; xMax: number; yMin: number; yMax: number } {
  return { ...lookup(name).bounds };
}
