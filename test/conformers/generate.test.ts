/**
 * `conformerEnsemble` (server/molecules/conformers/generate.ts), the one entry point of the CLI, the job and
 * the bench: the flow method extends the base ensemble with a torsional flow merged with a prior read off
 * an SD file, reports its stages, and stops with the caller's error when a progress report fails (a
 * cancelled job); a second prior without the flow method is refused. Small flow sizes keep it quick.
 */
import { describe, expect, it } from 'vitest';
import { generateEnsemble } from '~/server/molecules/conformers/ensemble';
import { conformerEnsemble } from '~/server/molecules/conformers/generate';
import { writeSdf } from '~/server/molecules/conformers/sdf';

const smiles = 'CCCCO';
const flowSizes = {
  candidates: 8,
  training: { steps: 200 },
  inner: { sampleCount: 200, steps: 200, warmSteps: 100 },
};

async function priorSdf(): Promise<string> {
  const prior = await generateEnsemble(smiles, { n: 4, seed: 11 });
  return writeSdf(
    prior.topology,
    prior.conformers.map((conformer, i) => ({ name: `prior ${i}`, coordinates: conformer.coordinates })),
  );
}

describe('conformerEnsemble', () => {
  it('merges an SD-file prior into the flow and reports its stages', async () => {
    const messages: string[] = [];
    const ensemble = await conformerEnsemble(smiles, {
      method: 'flow',
      n: 4,
      seed: 2,
      rmsdThreshold: 0.5,
      priorSdf: await priorSdf(),
      flowSizes,
      onProgress: (message) => void messages.push(message),
    });
    expect(ensemble.flow?.merged).toBe(true);
    expect(ensemble.secondPriorConformers).toBeGreaterThan(0);
    expect(ensemble.flow?.flowCandidates).toBe(8);
    expect(messages.some((m) => m.startsWith('base ensemble'))).toBe(true);
    expect(messages.some((m) => m.startsWith('torsional flow'))).toBe(true);
    const energies = ensemble.conformers.map((c) => c.energy);
    expect(energies).toEqual([...energies].sort((a, b) => a - b));
  }, 170_000);

  it('stops with the progress report’s error (a cancelled job), and refuses a prior without the flow', async () => {
    class Cancelled extends Error {}
    await expect(
      conformerEnsemble(smiles, {
        method: 'flow',
        n: 3,
        seed: 1,
        rmsdThreshold: 0.5,
        flowSizes,
        onProgress: (message) => {
          if (message.startsWith('torsional flow')) return Promise.reject(new Cancelled('cancelled'));
        },
      }),
    ).rejects.toBeInstanceOf(Cancelled);
    await expect(
      conformerEnsemble(smiles, { method: 'ensemble', n: 2, seed: 1, rmsdThreshold: 0.5, priorSdf: '' }),
    ).rejects.toThrow(/needs the flow method/);
  }, 170_000);
});
