/**
 * Toy densities (server/engines/flows/toy2d.ts): exact log-densities integrate to one, and the samplers
 * draw from those same densities.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../server/engines/random';
import {
  hasToyLogDensity,
  sampleToy,
  toyBounds,
  toyDensityNames,
  toyLogDensity,
} from '../../server/engines/flows';

/** Midpoint-rule integral of exp(logDensity) over [−half, half]² with cells of side h. */
function integrate(name: 'gaussian-mixture' | 'checkerboard' | 'rings', half: number, h: number): number {
  const cells = Math.round((2 * half) / h);
  const points = new Float64Array(2 * cells * cells);
  for (let i = 0; i < cells; i++) {
    for (let j = 0; j < cells; j++) {
      points[2 * (i * cells + j)] = -half + (j + 0.5) * h;
      points[2 * (i * cells + j) + 1] = -half + (i + 0.5) * h;
    }
  }
  const logDensity = toyLogDensity(name, points)!;
  let total = 0;
  for (const value of logDensity) total += Math.exp(value);
  return total * h * h;
}

describe('toy log-densities integrate to one', () => {
  it('gaussian-mixture', () => {
    // Every centre lies ≥ 3 (10 sd) inside [−6, 6]², so the mass outside is < 1e-20; for a smooth,
    // rapidly decaying integrand the midpoint rule converges faster than any power of h (observed error
    // ≈ 1e-13 at h = 0.02 = sd/15). Tolerance 1e-6.
    expect(Math.abs(integrate('gaussian-mixture', 6, 0.02) - 1)).toBeLessThan(1e-6);
  });

  it('checkerboard', () => {
    // Piecewise constant on cells aligned with the grid (h = 0.05 divides the square side 2): the
    // midpoint rule is exact up to float summation. Tolerance 1e-9.
    expect(Math.abs(integrate('checkerboard', 4, 0.05) - 1)).toBeLessThan(1e-9);
  });

  it('rings', () => {
    // Radial sd 0.1 resolved by h = 0.02; the outer ring (radius 3) lies 15 sd inside [−4.5, 4.5]². As for
    // the mixture, the midpoint rule on this smooth integrand is far more accurate than its h² bound
    // (observed ≈ 1e-13). Tolerance 1e-6.
    expect(Math.abs(integrate('rings', 4.5, 0.02) - 1)).toBeLessThan(1e-6);
  });

  it('is defined exactly for the densities with a closed form', () => {
    expect(toyDensityNames.filter(hasToyLogDensity)).toEqual(['rings', 'gaussian-mixture', 'checkerboard']);
    expect(toyLogDensity('moons', [0, 0])).toBeUndefined();
    // log(1/32) on a filled square, −∞ on an empty one or outside the board.
    expect(Array.from(toyLogDensity('checkerboard', [0.5, 0.5, 2.5, 0.5, 5, 5])!)).toEqual([
      -Math.log(32),
      -Infinity,
      -Infinity,
    ]);
  });
});

describe('toy samplers', () => {
  const n = 20000;

  it('are reproducible from the seed and stay inside their plotting boxes', () => {
    for (const name of toyDensityNames) {
      const a = sampleToy(name, 500, createRng(1));
      expect(sampleToy(name, 500, createRng(1))).toEqual(a);
      const { xMin, xMax, yMin, yMax } = toyBounds(name);
      let inside = 0;
      for (let i = 0; i < 500; i++) {
        if (a[2 * i] > xMin && a[2 * i] < xMax && a[2 * i + 1] > yMin && a[2 * i + 1] < yMax) inside++;
      }
      expect(inside).toBeGreaterThanOrEqual(498); // "essentially all the mass": tails may poke out rarely
    }
  });

  it('checkerboard samples fill the 8 filled squares equally', () => {
    const samples = sampleToy('checkerboard', n, createRng(2));
    const logDensity = toyLogDensity('checkerboard', samples)!;
    expect(logDensity.every((v) => v === -Math.log(32))).toBe(true);
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const key = `${Math.floor(samples[2 * i] / 2)},${Math.floor(samples[2 * i + 1] / 2)}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(8);
    // Binomial(n, 1/8): sd = √(n·1/8·7/8) ≈ 47; each count within 4 sd of n/8 = 2500.
    for (const count of counts.values())
      expect(Math.abs(count - n / 8)).toBeLessThan(4 * Math.sqrt((n * 7) / 64));
  });

  it('rings samples follow the ring weights 1:2:3 of the exact density', () => {
    const samples = sampleToy('rings', n, createRng(3));
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i++) counts[Math.round(Math.hypot(samples[2 * i], samples[2 * i + 1])) - 1]++;
    [1 / 6, 2 / 6, 3 / 6].forEach((p, k) => {
      expect(Math.abs(counts[k] - n * p)).toBeLessThan(4 * Math.sqrt(n * p * (1 - p)));
    });
  });

  it('gaussian-mixture samples have the mixture’s mean log-density', () => {
    // E[log p(X)] for X ~ p is the negative entropy; the 8 components barely overlap, so it equals that of
    // one component minus log 8: −log(2πe·0.3²) − log 8. Its sampling sd is √Var(log p)/√n ≈ 1/√n.
    const samples = sampleToy('gaussian-mixture', n, createRng(4));
    const logDensity = toyLogDensity('gaussian-mixture', samples)!;
    const meanLog = logDensity.reduce((a, b) => a + b, 0) / n;
    const expected = -Math.log(2 * Math.PI * Math.E * 0.09) - Math.log(8);
    expect(Math.abs(meanLog - expected)).toBeLessThan(4 / Math.sqrt(n));
  });
});
