/**
 * Seeded pseudo-random numbers, so that a run is reproducible from its seed (DESIGN.md §7: "its config,
 * seed, code version and backend are stored with it"). sfc32 (Chris Doty-Humphrey's Small Fast Counting
 * generator, 128-bit state, passes PractRand to large sizes) seeded through splitmix32, which spreads
 * nearby integer seeds (0, 1, 2, …) into unrelated states.
 */

export interface Rng {
  /** Uniform on [0, 1), 32 bits of resolution. */
  uniform(): number;
  /** Standard normal N(0, 1) by the Box–Muller transform. */
  normal(): number;
  /** Uniform integer in {0, …, n−1}. */
  int(n: number): number;
  /** A fresh non-negative 31-bit integer, to seed tf.randomNormal / tf.randomUniform or a child Rng. */
  nextSeed(): number;
}

/** splitmix32 finaliser: a bijective avalanche of 32-bit integers. */
function splitmix32(state: number): [value: number, next: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`createRng: seed must be a finite number, got ${seed}`);
  // Fold seeds beyond 32 bits in, so that e.g. 2^32 and 0 differ.
  let mixState = (Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32)) | 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [value, next] = splitmix32(mixState);
    words.push(value);
    mixState = next;
  }
  let [a, b, c, d] = words;

  function nextUint32(): number {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  }
  // Discard the first outputs: sfc32 mixes its state over its first few rounds.
  for (let i = 0; i < 12; i++) nextUint32();

  let spareNormal: number | undefined;

  const uniform = () => nextUint32() / 2 ** 32;
  return {
    uniform,
    normal() {
      if (spareNormal !== undefined) {
        const value = spareNormal;
        spareNormal = undefined;
        return value;
      }
      // 1 − u lies in (0, 1], so the logarithm is finite.
      const radius = Math.sqrt(-2 * Math.log(1 - uniform()));
      const angle = 2 * Math.PI * uniform();
      spareNormal = radius * Math.sin(angle);
      return radius * Math.cos(angle);
    },
    int(n: number) {
      if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
      return Math.floor(uniform() * n);
    },
    nextSeed() {
      return nextUint32() >>> 1;
    },
  };
}

/** n independent standard normals (e.g. base noise x0 or Gaussian Hutchinson probes). */
export function normalArray(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal();
  return out;
}
