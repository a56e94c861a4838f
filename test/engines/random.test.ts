/** Seeded random numbers (server/engines/random.ts): reproducible, and with the right moments. */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../server/engines/random';

describe('createRng', () => {
  it('is reproducible from its seed and differs between seeds', () => {
    const draw = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 5 }, () => rng.uniform());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(0)).not.toEqual(draw(2 ** 32));
  });

  it('has uniform and normal moments within sampling error', () => {
    const n = 100000;
    const rng = createRng(7);
    let sumU = 0;
    let sumZ = 0;
    let sumZ2 = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      if (!(u >= 0 && u < 1)) outOfRange++;
      sumU += u;
      const z = rng.normal();
      sumZ += z;
      sumZ2 += z * z;
    }
    expect(outOfRange).toBe(0);
    // Standard errors: uniform mean √(1/12/n) ≈ 9e-4; normal mean 1/√n ≈ 3e-3; variance √(2/n) ≈ 4.5e-3.
    expect(Math.abs(sumU / n - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sumZ / n)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(sumZ2 / n - 1)).toBeLessThan(4 * Math.sqrt(2 / n));
  });

  it('int(n) covers {0, …, n−1} evenly; nextSeed gives 31-bit integers', () => {
    const rng = createRng(8);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 50000; i++) counts[rng.int(5)]++;
    // Binomial(50000, 1/5): sd ≈ 89; within 4 sd of 10000.
    for (const count of counts) expect(Math.abs(count - 10000)).toBeLessThan(4 * Math.sqrt(50000 * 0.16));
    const seed = rng.nextSeed();
    expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31).toBe(true);
    expect(() => rng.int(0)).toThrow();
  });
});
