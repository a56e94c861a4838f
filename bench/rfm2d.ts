/**
 * `tributary bench rfm2d [--seed S]`: RFM on random 2-D Gaussian-mixture priors (drawn from the seed),
 * per operator: total variation to the exact target on a 40 × 40 grid, the best naive baseline's, and
 * wall time. Interpolation uses two random Gaussians, whose Wasserstein barycenter is known. Priors are closed-form mixture flows, so the figures measure the merging (one mirror step
 * solved by reward-weighted flow matching) and not prior training.
 */
import os from 'node:os';
import { GaussianMixtureFlow, type MixtureComponent } from '../server/engines/flows';
import { createRng, type Rng } from '../server/engines/random';
import {
  broadGaussianCover,
  densityOnGrid,
  exactTargetOnGrid,
  GaussianMixtureDensity,
  grid2d,
  makeReward,
  mirrorDescent,
  MixtureDensity,
  totalVariation,
  type DensityModel,
  type RfmProblem,
} from '../server/engines/rfm';
import { initTensorBackend } from '../server/engines/tensor';

const GRID_SIZE = 40;

function randomComponents(rng: Rng, count: number, near?: number[]): MixtureComponent[] {
  return Array.from({ length: count }, (_, k) => ({
    weight: 0.5 + rng.uniform(),
    mean:
      k === 0 && near
        ? [near[0] + 0.5 * rng.normal(), near[1] + 0.5 * rng.normal()]
        : [-3 + 6 * rng.uniform(), -3 + 6 * rng.uniform()],
    sd: 0.4 + 0.4 * rng.uniform(),
  }));
}

export async function runRfm2dBench(seed: number) {
  const backend = await initTensorBackend();
  const rng = createRng(seed);
  const first = randomComponents(rng, 2 + rng.int(2));
  // The second prior shares a region with the first, so their intersection has mass to find.
  const second = randomComponents(rng, 2 + rng.int(2), first[0].mean);
  const p1 = new GaussianMixtureDensity(new GaussianMixtureFlow(first));
  const p2 = new GaussianMixtureDensity(new GaussianMixtureFlow(second));
  const grid = grid2d({ xMin: -5.5, xMax: 5.5, yMin: -5.5, yMax: 5.5 }, GRID_SIZE);
  const angle = 2 * Math.PI * rng.uniform();
  const reward = makeReward({ kind: 'linear', weights: [Math.cos(angle), Math.sin(angle)], offset: 0 });

  const cases: { operator: string; problem: RfmProblem; init: DensityModel; baselines: DensityModel[] }[] = [
    {
      operator: 'intersection',
      problem: { operator: 'intersection', priors: [p1, p2], weights: [1, 1] },
      init: new MixtureDensity([p1, p2]),
      baselines: [p1, p2, new MixtureDensity([p1, p2])],
    },
    {
      operator: 'union',
      problem: { operator: 'union', priors: [p1, p2], weights: [1, 1] },
      init: new MixtureDensity([p1, p2]),
      baselines: [p1, p2],
    },
    {
      operator: 'reward',
      problem: { operator: 'intersection', priors: [p1], weights: [1], reward },
      init: p1,
      baselines: [p1],
    },
  ];
  // Interpolation: two random isotropic Gaussians, whose W2 barycenter is N(mean of means, (mean sd)² I).
  const gaussian = (mean: number[], sd: number) =>
    new GaussianMixtureDensity(new GaussianMixtureFlow([{ weight: 1, mean, sd }]));
  const g1 = { mean: [-3 + 2 * rng.uniform(), -1 + 2 * rng.uniform()], sd: 0.4 + 0.4 * rng.uniform() };
  const g2 = { mean: [1 + 2 * rng.uniform(), -1 + 2 * rng.uniform()], sd: 0.4 + 0.4 * rng.uniform() };
  const q1 = gaussian(g1.mean, g1.sd);
  const q2 = gaussian(g2.mean, g2.sd);
  const barycenter = gaussian(
    [0, 1].map((j) => (g1.mean[j] + g2.mean[j]) / 2),
    (g1.sd + g2.sd) / 2,
  );

  cases.push({
    operator: 'interpolation',
    problem: { operator: 'interpolation', priors: [q1, q2], weights: [1, 1] },
    init: broadGaussianCover(new MixtureDensity([q1, q2]), rng.nextSeed()),
    baselines: [q1, q2],
  });

  const results = [];
  for (const { operator, problem, init, baselines } of cases) {
    const started = performance.now();
    const interpolation = operator === 'interpolation';
    const target = interpolation ? densityOnGrid(barycenter, grid) : exactTargetOnGrid(problem, grid);
    const { iterates, iterations } = await mirrorDescent({
      problem,
      init,
      outerSteps: interpolation ? 4 : 1,
      seed: rng.nextSeed(),
      ...(interpolation ? { inner: { steps: 800, warmSteps: 400, sampleCount: 1200 } } : {}),
    });
    const tv = totalVariation(densityOnGrid(iterates[iterates.length - 1], grid), target);
    const seconds = (performance.now() - started) / 1000;
    iterates.forEach((it) => it.dispose());
    const tvBaseline = Math.min(...baselines.map((b) => totalVariation(densityOnGrid(b, grid), target)));
    results.push({
      operator,
      tv: round(tv),
      tv_baseline: round(tvBaseline),
      seconds: round(seconds, 2),
      effective_sample_fraction: round(iterations[iterations.length - 1].effectiveSampleFraction),
    });
  }
  return {
    bench: 'rfm2d',
    seed,
    grid: `${GRID_SIZE}x${GRID_SIZE}`,
    results,
    backend: backend.name,
    backend_detail: backend.detail,
    node: process.version,
    cpus: os.cpus().length,
    date: new Date().toISOString(),
  };
}

function round(value: number, digits = 4): number {
  return Number(value.toFixed(digits));
}
