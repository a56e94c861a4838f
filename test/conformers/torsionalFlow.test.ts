/**
 * Torsional flows (DESIGN.md §4, issue 7 item 3): the torus path at the ±π seam in closed form, a trained flow
 * against an exact von Mises mixture on T², RFM intersection of two torus priors against its exact optimum,
 * energy steering on pentane, torsions read back from an SD file in another atom order, and the ensemble
 * pipeline end to end on a small molecule.
 *
 * Tolerances (measured on the wasm backend, seeds as below):
 * - von Mises: 4000 exact samples alone are at TV 0.047–0.051 from the exact 12×12 bin probabilities (three
 *   seeds), the trained flow's samples at 0.11, the uniform distribution at 0.665. The bound 0.16 allows the
 *   sampling noise plus a flow error half as large again as measured, and is a quarter of the uniform's.
 * - Intersection: the merged flow at TV 0.086–0.091 (two sampling seeds); either prior alone 0.40 / 0.47, the
 *   mixture the mirror step starts from 0.37 (printed). Bound 0.16, and half the best of those.
 * - Pentane: mean rigid-rotor MMFF94 energy of 1000 samples 4.1 kcal/mol (prior) → −3.6 (steered), medians −1.9
 *   → −5.0. The test asks for 3 kcal/mol on the mean and 1.5 on the median. Why this is safe: the exact target
 *   p ∝ p_prior·e^{−E/kT} has a lower mean energy than the prior for any prior (d/dγ E_γ[E] = −Var_γ E < 0), and
 *   at kT = 0.59 kcal/mol the tilt removes essentially all mass above the lowest basins; the margins required are
 *   less than half of those measured.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { flowMatchingLoss } from '~/server/engines/flows';
import { MixtureDensity, type DensityModel } from '~/server/engines/rfm';
import { initTensorBackend, tf } from '~/server/engines/tensor';
import { generateEnsemble } from '~/server/molecules/conformers/ensemble';
import { heavyAtomGraph, SymmetricRmsd } from '~/server/molecules/conformers/rmsd';
import { sdfRecord } from '~/server/molecules/conformers/sdf';
import { torsionsFromSdf } from '~/server/molecules/conformers/sdfTorsions';
import type { MoleculeTopology } from '~/server/molecules/conformers/structure';
import {
  angularDifference,
  conformerFromTorsions,
  energyReward,
  generateTorsionalEnsemble,
  mergeTorsionalPriors,
  selectDiverseTorsions,
  steerTorsionalFlow,
  torsionalEnergies,
  torsionalSystemFromEnsemble,
  torsionDistance,
  torsionsOf,
  TorusFlowMatcher,
  TorusVelocityField,
  trainTorsionalFlow,
  TWO_PI,
  VonMisesMixtureDensity,
  wrapAngle,
} from '~/server/molecules/conformers/torsionalFlow';

beforeAll(async () => {
  await initTensorBackend('auto');
});

const BINS = 12;

/** Sample frequencies on a BINS × BINS grid of (−π, π]². */
function histogram(points: Float32Array): Float64Array {
  const counts = new Float64Array(BINS * BINS);
  const n = points.length / 2;
  const bin = (angle: number) => Math.min(BINS - 1, Math.floor(((angle + Math.PI) / TWO_PI) * BINS));
  for (let i = 0; i < n; i++) counts[bin(points[2 * i]) * BINS + bin(points[2 * i + 1])] += 1 / n;
  return counts;
}

/** Exact bin probabilities of a density on T² (midpoint rule, 8 × 8 points per bin). */
function binProbabilities(logDensity: (points: Float32Array) => Float64Array): Float64Array {
  const fine = 8;
  const size = BINS * fine;
  const points = new Float32Array(size * size * 2);
  for (let a = 0; a < size; a++)
    for (let b = 0; b < size; b++) {
      points[2 * (a * size + b)] = -Math.PI + ((a + 0.5) * TWO_PI) / size;
      points[2 * (a * size + b) + 1] = -Math.PI + ((b + 0.5) * TWO_PI) / size;
    }
  const logValues = logDensity(points);
  const out = new Float64Array(BINS * BINS);
  let total = 0;
  for (let a = 0; a < size; a++)
    for (let b = 0; b < size; b++) {
      const p = Math.exp(logValues[a * size + b]);
      out[Math.floor(a / fine) * BINS + Math.floor(b / fine)] += p;
      total += p;
    }
  return out.map((value) => value / total);
}

const totalVariation = (p: Float64Array, q: Float64Array) =>
  0.5 * p.reduce((sum, value, i) => sum + Math.abs(value - q[i]), 0);

/** Bond lengths of a geometry, one per bond of the topology. */
function bondLengths(topology: MoleculeTopology, coordinates: Float64Array): number[] {
  return topology.bonds.map(({ from, to }) =>
    Math.hypot(
      coordinates[3 * from] - coordinates[3 * to],
      coordinates[3 * from + 1] - coordinates[3 * to + 1],
      coordinates[3 * from + 2] - coordinates[3 * to + 2],
    ),
  );
}

describe('the torus path', () => {
  it('wraps onto (−π, π] and interpolates the short way across the ±π seam (closed form)', () => {
    expect(wrapAngle(Math.PI)).toBe(Math.PI);
    expect(wrapAngle(-Math.PI)).toBeCloseTo(Math.PI, 12);
    expect(wrapAngle(3 * Math.PI)).toBeCloseTo(Math.PI, 12);
    expect(wrapAngle(-3.2)).toBeCloseTo(-3.2 + TWO_PI, 12);
    expect(angularDifference(3.0, -3.0)).toBeCloseTo(TWO_PI - 6, 12); // +0.283 across the seam, not −6

    const matcher = new TorusFlowMatcher();
    const x0 = tf.tensor2d([[3.0, -3.0, 0.5]]);
    const x1 = tf.tensor2d([[-2.9, 2.9, -0.5]]);
    const delta = TWO_PI - 5.9; // 0.3832
    const { xt, ut } = matcher.sampleLocationAndConditionalFlow(x0, x1, 0.5);
    const expectedMid = [3.0 + delta / 2 - TWO_PI, -3.0 - delta / 2 + TWO_PI, 0];
    Array.from(xt.dataSync()).forEach((value, j) => expect(value).toBeCloseTo(expectedMid[j], 5));
    Array.from(ut.dataSync()).forEach((value, j) => expect(value).toBeCloseTo([delta, -delta, -1][j], 5));
    // The endpoints: t = 0 gives θ0, t = 1 gives θ1 (wrapped).
    const start = matcher.sampleLocationAndConditionalFlow(x0, x1, 0).xt.dataSync();
    const end = matcher.sampleLocationAndConditionalFlow(x0, x1, 1).xt.dataSync();
    [3.0, -3.0, 0.5].forEach((value, j) => expect(start[j]).toBeCloseTo(value, 5));
    [-2.9, 2.9, -0.5].forEach((value, j) => expect(end[j]).toBeCloseTo(value, 5));

    // The velocity field is 2π-periodic, and a field equal to the target has zero loss on the seam pair.
    const field = TorusVelocityField.create({ torsions: 3, hidden: 16, layers: 2 }, 1);
    const shifted = tf.add<tf.Tensor2D>(x0, tf.tensor2d([[TWO_PI, -2 * TWO_PI, 3 * TWO_PI]]));
    const v = field.predict(x0, 0.3).dataSync();
    const vShifted = field.predict(shifted, 0.3).dataSync();
    v.forEach((value, j) => expect(vShifted[j]).toBeCloseTo(value, 4));
    const exact = { dimension: 3, predict: () => tf.tensor2d([[delta, -delta, -1]]) };
    expect(flowMatchingLoss(exact, x0, x1, 0.7, matcher).dataSync()[0]).toBeCloseTo(0, 8);
    field.dispose();
    tf.dispose([x0, x1, xt, ut, shifted]);
  });
});

describe('candidate selection', () => {
  it('takes the lowest energies first among torsion vectors far enough apart, across the seam', () => {
    // Rows (m = 2) and energies: row 1 is lowest but within 0.1 rad of the excluded (3.1, 0) across the seam;
    // row 3 is within 0.2 of row 0.
    const pool = Float32Array.from([0.5, 0.5, -3.1, 0.1, 2.0, -2.0, 0.6, 0.4, -1.0, 1.0]);
    const energies = [1, 0, 3, 2, Infinity];
    const exclude = Float32Array.from([3.1, 0]);
    const pick = (count: number, minDistance: number) =>
      Array.from(selectDiverseTorsions(pool, energies, 2, count, { exclude, minDistance }));
    expect(torsionDistance(pool, 1, exclude, 0, 2)).toBeCloseTo(0.1, 6); // max(2π − 6.2, 0.1)
    expect(pick(3, 0.3)).toEqual(Array.from(pool.subarray(0, 2)).concat([2.0, -2.0, -1.0, 1.0]));
    // Too few qualify: the lowest remaining rows fill up; without a distance, plain energy order.
    expect(pick(4, 0.3).slice(6)).toEqual([-3.1, 0.1].map(Math.fround));
    expect(pick(2, 0)).toEqual([-3.1, 0.1, 0.5, 0.5].map(Math.fround));
  });
});

describe('a torsional flow on a von Mises mixture', () => {
  it('matches the target: histogram TV, circular moments, the seam mode, and a normalised likelihood', async () => {
    const target = new VonMisesMixtureDensity([
      { weight: 0.5, mean: [3.0, -2.9], concentration: [6, 6] }, // straddles both seams
      { weight: 0.3, mean: [-1.2, 1.0], concentration: [4, 8] },
      { weight: 0.2, mean: [1.0, 0.5], concentration: [10, 3] },
    ]);
    const { density, training } = await trainTorsionalFlow(target.sample(20_000, 1), 2, {
      steps: 1500,
      learningRate: 5e-3,
      seed: 3,
    });
    const samples = density.sample(4000, 5);
    const exact = binProbabilities((points) => target.logDensity(points));
    const tv = totalVariation(histogram(samples), exact);
    const uniform = totalVariation(new Float64Array(BINS * BINS).fill(1 / BINS ** 2), exact);
    console.log(
      `von Mises: TV ${tv.toFixed(3)} (uniform ${uniform.toFixed(3)}), ${training.seconds.toFixed(1)} s training`,
    );
    expect(tv).toBeLessThan(0.16);

    // First circular moments E[cos θ_j], E[sin θ_j] against the exact ones (grid quadrature); the standard
    // error with 4000 samples is below 0.011.
    const exactSamples = target.sample(200_000, 9);
    for (let j = 0; j < 2; j++) {
      const moment = (points: Float32Array, f: (x: number) => number) => {
        let sum = 0;
        for (let i = j; i < points.length; i += 2) sum += f(points[i]);
        return sum / (points.length / 2);
      };
      expect(Math.abs(moment(samples, Math.cos) - moment(exactSamples, Math.cos))).toBeLessThan(0.05);
      expect(Math.abs(moment(samples, Math.sin) - moment(exactSamples, Math.sin))).toBeLessThan(0.05);
    }
    // The mode on the seam keeps its mass (a flow blind to periodicity would tear it into four corners).
    const nearSeamMode = (points: Float32Array) => {
      let count = 0;
      for (let i = 0; i < points.length; i += 2)
        if (
          Math.abs(angularDifference(points[i], 3.0)) < 0.6 &&
          Math.abs(angularDifference(points[i + 1], -2.9)) < 0.6
        )
          count++;
      return count / (points.length / 2);
    };
    expect(Math.abs(nearSeamMode(samples) - nearSeamMode(exactSamples))).toBeLessThan(0.04);

    // The torus change of variables: the flow's density integrates to 1 over (−π, π]² (24 × 24 midpoints).
    const grid = 24;
    const points = new Float32Array(grid * grid * 2);
    for (let a = 0; a < grid; a++)
      for (let b = 0; b < grid; b++) {
        points[2 * (a * grid + b)] = -Math.PI + ((a + 0.5) * TWO_PI) / grid;
        points[2 * (a * grid + b) + 1] = -Math.PI + ((b + 0.5) * TWO_PI) / grid;
      }
    const logP = density.logDensity(points);
    const mass = logP.reduce((sum, value) => sum + Math.exp(value), 0) * (TWO_PI / grid) ** 2;
    console.log(`von Mises: likelihood mass on the torus ${mass.toFixed(4)}`);
    expect(Math.abs(mass - 1)).toBeLessThan(0.03);
    density.dispose();
  });
});

describe('RFM on the torus', () => {
  it('merges two priors by intersection into p ∝ √(p1·p2), across the seam', async () => {
    const p1 = new VonMisesMixtureDensity([
      { weight: 1, mean: [3.0, -2.9], concentration: [4, 4] },
      { weight: 1, mean: [-1.5, 1.5], concentration: [4, 4] },
    ]);
    const p2 = new VonMisesMixtureDensity([
      { weight: 1, mean: [-2.8, 3.0], concentration: [4, 4] },
      { weight: 1, mean: [1.0, 0.0], concentration: [4, 4] },
    ]);
    const target = binProbabilities((points) => {
      const a = p1.logDensity(points);
      const b = p2.logDensity(points);
      return a.map((value, i) => 0.5 * value + 0.5 * b[i]);
    });
    const { iterates, iterations } = await mergeTorsionalPriors([p1, p2], {
      seed: 1,
      inner: { sampleCount: 3000, steps: 1500, learningRate: 5e-3 },
    });
    const tv = totalVariation(histogram(iterates[0].sample(4000, 1)), target);
    const tvOf = (d: DensityModel) =>
      totalVariation(
        binProbabilities((points) => d.logDensity(points)),
        target,
      );
    const baselines = [tvOf(p1), tvOf(p2), tvOf(new MixtureDensity([p1, p2]))];
    console.log(
      `intersection: TV ${tv.toFixed(3)}; priors and mixture ${baselines.map((b) => b.toFixed(3)).join(', ')}; ESS ${iterations[0].effectiveSampleFraction.toFixed(2)}`,
    );
    expect(iterations[0].gamma).toBe(0.5); // 1/A: one exact step
    expect(tv).toBeLessThan(0.16);
    expect(tv).toBeLessThan(Math.min(...baselines) / 2);
    iterates.forEach((iterate) => iterate.dispose());
  });
});

describe('torsional flows on molecules', () => {
  it('steers a pentane prior toward low MMFF94 energy, on valid rigid-rotor geometries', async () => {
    const pentane = await generateEnsemble('CCCCC', { n: 8, seed: 3 });
    const system = torsionalSystemFromEnsemble(pentane);
    expect(system.rotatableBonds.length).toBe(2);
    const data = torsionsOf(
      pentane.conformers.map((c) => c.coordinates),
      pentane.rotatableBonds,
    );
    const prior = await trainTorsionalFlow(data, 2, {
      steps: 800,
      jitter: 0.15,
      seed: 1,
      learningRate: 5e-3,
    });
    const steered = await steerTorsionalFlow(prior.density, energyReward(system), {
      inner: { sampleCount: 1000, warmSteps: 400 },
      seed: 2,
    });
    expect(steered.strengthReached).toBeCloseTo(1, 9);
    const priorSamples = prior.density.sample(1000, 11);
    const steeredSamples = steered.density.sample(1000, 11);
    const priorEnergies = Array.from(torsionalEnergies(system, priorSamples));
    const steeredEnergies = Array.from(torsionalEnergies(system, steeredSamples));
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
    console.log(
      `pentane: mean energy ${mean(priorEnergies).toFixed(2)} → ${mean(steeredEnergies).toFixed(2)}, median ${median(priorEnergies).toFixed(2)} → ${median(steeredEnergies).toFixed(2)} kcal/mol; steps ${JSON.stringify(steered.iterations.map((i) => ({ gamma: +i.gamma.toFixed(3), ess: +i.effectiveSampleFraction.toFixed(3) })))}`,
    );
    expect(mean(steeredEnergies)).toBeLessThan(mean(priorEnergies) - 3);
    expect(median(steeredEnergies)).toBeLessThan(median(priorEnergies) - 1.5);

    // Valid geometries: every bond length of every sample is the base geometry's to 1e-6 Å, and the sampled
    // torsions are the ones set.
    const baseLengths = bondLengths(pentane.topology, system.baseCoordinates);
    for (let i = 0; i < 1000; i++) {
      const coordinates = conformerFromTorsions(system, steeredSamples, i);
      bondLengths(pentane.topology, coordinates).forEach((length, b) =>
        expect(Math.abs(length - baseLengths[b])).toBeLessThan(1e-6),
      );
      if (i < 20) {
        const measured = torsionsOf([coordinates], system.rotatableBonds);
        measured.forEach((angle, j) =>
          expect(Math.abs(angularDifference(angle, steeredSamples[2 * i + j]))).toBeLessThan(1e-5),
        );
      }
    }
    prior.density.dispose();
    steered.density.dispose();
  });

  it('reads torsions off an SD file in another atom order, and builds a merged, steered ensemble', async () => {
    const smiles = 'CCCCCO'; // three rotatable bonds, no graph symmetry
    const base = await generateEnsemble(smiles, { n: 6, seed: 4 });
    expect(base.rotatableBonds.length).toBe(3);
    // Write the conformers with the heavy atoms in reverse order (hydrogens after them, as OpenChemLib keeps).
    const heavy = base.topology.heavyAtoms.length;
    const order = [...Array(base.topology.atomCount).keys()].map((atom) =>
      atom < heavy ? heavy - 1 - atom : atom,
    );
    const position = new Map(order.map((atom, index) => [atom, index]));
    const { topology } = base;
    const permuted: MoleculeTopology = {
      ...topology,
      atomicNumbers: Int32Array.from(order, (atom) => topology.atomicNumbers[atom]),
      charges: Int32Array.from(order, (atom) => topology.charges[atom]),
      isotopes: Int32Array.from(order, (atom) => topology.isotopes[atom]),
      bonds: topology.bonds.map((bond) => ({
        ...bond,
        from: position.get(bond.from)!,
        to: position.get(bond.to)!,
      })),
    };
    const sdf = base.conformers
      .map((conformer, index) => {
        const coordinates = new Float64Array(3 * topology.atomCount);
        order.forEach((atom, at) =>
          coordinates.set(conformer.coordinates.subarray(3 * atom, 3 * atom + 3), 3 * at),
        );
        return sdfRecord(permuted, { name: `uploaded ${index}`, coordinates });
      })
      .join('');
    const uploaded = await torsionsFromSdf(sdf, base);
    const expected = torsionsOf(
      base.conformers.map((c) => c.coordinates),
      base.rotatableBonds,
    );
    expect(uploaded.count).toBe(base.conformers.length);
    uploaded.torsions.forEach((angle, k) =>
      expect(Math.abs(angularDifference(angle, expected[k]))).toBeLessThan(1e-3),
    );
    // Another molecule (the oxygen made a sulfur) is refused.
    const thiol = { ...permuted, atomicNumbers: permuted.atomicNumbers.map((z) => (z === 8 ? 16 : z)) };
    const other = sdfRecord(thiol, { name: 'thiol', coordinates: base.conformers[0].coordinates });
    await expect(torsionsFromSdf(other, base)).rejects.toThrow(/not the reference molecule/);

    // The pipeline, small: base prior ∩ uploaded prior (intersection), steered, sampled, minimised, deduplicated.
    const n = 5;
    const ensemble = await generateTorsionalEnsemble(smiles, {
      n,
      seed: 4,
      baseEnsemble: base,
      secondPriorTorsions: uploaded.torsions,
      candidates: 12,
      training: { steps: 400 },
      inner: { sampleCount: 400, steps: 400, warmSteps: 200 },
    });
    const report = ensemble.flow!;
    console.log(`pipeline: ${JSON.stringify({ ...report, steering: report.steering.length })}`);
    expect(report.merged).toBe(true);
    expect(report.flowCandidates).toBe(12);
    // The flow contributed: some of its minimised samples are distinct from the base conformers.
    expect(report.flowConformersKept).toBeGreaterThan(0);
    expect(ensemble.conformers.length).toBeLessThanOrEqual(n);
    const energies = ensemble.conformers.map((c) => c.energy);
    expect(energies).toEqual([...energies].sort((a, b) => a - b));
    // With the base conformers among the candidates, the ensemble is at least as low as the base one.
    expect(energies[0]).toBeLessThanOrEqual(base.conformers[0].energy + 1e-9);
    const system = torsionalSystemFromEnsemble(base);
    for (const conformer of ensemble.conformers)
      expect(system.evaluator.energy(conformer.coordinates)).toBeCloseTo(conformer.energy, 6);
    const symmetric = new SymmetricRmsd(heavyAtomGraph(ensemble.topology));
    const coordinates = ensemble.conformers.map((c) => c.coordinates);
    const rmsd = symmetric.matrix(coordinates, coordinates);
    for (let i = 0; i < rmsd.length; i++)
      for (let j = i + 1; j < rmsd.length; j++) expect(rmsd[i][j]).toBeGreaterThanOrEqual(0.5);
  });
});
