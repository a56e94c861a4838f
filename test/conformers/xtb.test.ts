/**
 * GFN2-xTB through the `xtb` program (server/molecules/conformers/xtb.ts). Water relaxed by xtb reaches
 * GFN2-xTB's published minimum, −5.070544 Eh, with an O–H bond of 0.959 Å (Bannwarth et al. 2019's
 * parametrisation; the 6-decimal value is the program's own, so 1e-5 Eh is the tolerance); a single point
 * keeps the geometry and lies above the minimum; the unit conversion is CODATA's; a stuck run is killed by
 * the timeout with a readable error. xtb is a peer installed by ../shared/peers/install-peers.sh: without
 * it these tests fail loudly rather than skip.
 */
import { describe, expect, it } from 'vitest';
import { embedConformers } from '~/server/molecules/conformers/ensemble';
import { coordinatesFromOcl, topologyFromOcl } from '~/server/molecules/conformers/structure';
import { HARTREE_IN_KCAL_PER_MOL, xtbAvailable, xtbEnergy } from '~/server/molecules/conformers/xtb';

function water() {
  const [molecule] = embedConformers('O', 1, 1);
  const topology = topologyFromOcl(molecule);
  // A deliberately stretched geometry (O–H 1.0 Å, 104.5°), O first as OpenChemLib orders it.
  const half = (104.5 / 2) * (Math.PI / 180);
  const coordinates = new Float64Array([
    0,
    0,
    0,
    Math.sin(half),
    Math.cos(half),
    0,
    -Math.sin(half),
    Math.cos(half),
    0,
  ]);
  return { topology, coordinates };
}

describe('GFN2-xTB energies', () => {
  it('finds the xtb program (install it with ../shared/peers/install-peers.sh)', async () => {
    expect(await xtbAvailable()).toBe(true);
  });

  it('relaxes water to the GFN2-xTB minimum; a single point keeps the geometry and lies above it', async () => {
    const { topology, coordinates } = water();
    expect(Array.from(topology.atomicNumbers)).toEqual([8, 1, 1]);
    const relaxed = await xtbEnergy(topology, coordinates, { optimize: true });
    expect(relaxed.energyHartree).toBeCloseTo(-5.070544, 5);
    expect(relaxed.energyKcal).toBeCloseTo(relaxed.energyHartree * HARTREE_IN_KCAL_PER_MOL, 9);
    const c = relaxed.coordinates;
    const bond = Math.hypot(c[3] - c[0], c[4] - c[1], c[5] - c[2]);
    expect(bond).toBeCloseTo(0.959, 3);

    const single = await xtbEnergy(topology, coordinates);
    expect(Array.from(single.coordinates)).toEqual(Array.from(coordinates));
    expect(single.energyHartree).toBeGreaterThan(relaxed.energyHartree);
  });

  it('scores a real conformer, and reports a timeout clearly', async () => {
    const [molecule] = embedConformers('CCO', 1, 1);
    const topology = topologyFromOcl(molecule);
    const ethanol = await xtbEnergy(topology, coordinatesFromOcl(molecule));
    expect(Number.isFinite(ethanol.energyHartree)).toBe(true);
    // Ethanol's GFN2-xTB energy is ≈ −11.4 Eh; a structure without its hydrogens would be near −7.8.
    expect(ethanol.energyHartree).toBeGreaterThan(-11.5);
    expect(ethanol.energyHartree).toBeLessThan(-11.3);
    await expect(
      xtbEnergy(topology, coordinatesFromOcl(molecule), { optimize: true, timeoutMs: 1 }),
    ).rejects.toThrow(/timed out/);
  });
});
