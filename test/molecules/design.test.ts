/**
 * Molecule design helpers (server/molecules/design.ts): snapping relaxed samples to their one-hot
 * vertex keeps the decoded molecules, and the top-k mean is the hand-computed one.
 */
import { describe, expect, it } from 'vitest';
import { divergedRows, topMean } from '../../server/molecules/design';
import { decodeSamples, encodeLibrary, snapToOneHot } from '../../server/molecules/prior';
import { createRng } from '../../server/engines/random';

describe('snapToOneHot', () => {
  it('puts +h at each position’s largest coordinate and −h elsewhere, decoding to the same molecules', async () => {
    const library = await encodeLibrary(['CC(=O)Oc1ccccc1C(=O)O', 'CCN(CC)CC', 'c1ccc2c(c1)cccn2']);
    const symbols = library.vocabulary.symbols.length;
    // Noisy points around the library's vertices, as a flow's samples are.
    const rng = createRng(3);
    const noisy = library.vectors.map((v) => v * 0.3 + 1.5 * rng.normal());
    const snapped = snapToOneHot(noisy, symbols, 4);
    for (let start = 0; start < noisy.length; start += symbols) {
      const block = Array.from(snapped.subarray(start, start + symbols));
      expect(block.filter((v) => v === 4)).toHaveLength(1);
      expect(block.filter((v) => v === -4)).toHaveLength(symbols - 1);
      const original = Array.from(noisy.subarray(start, start + symbols));
      expect(block.indexOf(4)).toBe(original.indexOf(Math.max(...original)));
    }
    const before = decodeSamples(noisy, library.vocabulary, library.length).smiles;
    const after = decodeSamples(snapped, library.vocabulary, library.length).smiles;
    expect(after).toEqual(before);
    expect(() => snapToOneHot(new Float32Array(7), 3, 4)).toThrow(/vocabulary size/);
  });
});

describe('topMean', () => {
  it('averages the k largest values, all of them when fewer', () => {
    expect(topMean([0.1, 0.9, 0.5, 0.7], 2)).toBeCloseTo(0.8, 12);
    expect(topMean([0.2, 0.4], 10)).toBeCloseTo(0.3, 12);
    expect(topMean([], 3)).toBeNaN();
  });
});

describe('divergedRows', () => {
  it('flags rows with a coordinate beyond 25·h or not finite, and only those', () => {
    const points = Float32Array.from([1, -4, 99, 0, 101, 0, 0, Number.NaN, -1e21, 0, 3, 2]);
    expect(divergedRows(points, 2)).toEqual([false, false, true, true, true, false]);
  });
});
