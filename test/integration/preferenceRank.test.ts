/**
 * A molecules campaign's estimate as a reward: `learnedReward` gives θ̂ with the pool's normalisation, and
 * `rank` orders a pasted list by exactly that reward (best first), reporting lines that are not molecules.
 */
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMolecularReward } from '../../server/molecules/rewards';
import type { Runtime } from '../../server/runtime';
import { callerFor, createTestRuntime, signUp } from '../support/runtime';

describe('learned preference reward (PGlite)', () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createTestRuntime('pglite');
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('ranks a molecule list by θ̂ᵀφ after a few answers', async () => {
    const alice = await callerFor(runtime, await signUp(runtime, 'ranker@example.org'));
    const { id: projectId } = await alice.project.create({ name: 'Ranking' });
    const { id: campaignId } = await alice.preference.create({
      projectId,
      name: 'Taste',
      domain: 'molecules',
      K: 3,
      budget: 5,
      seed: 2,
    });
    for (let i = 0; i < 4; i++) {
      const { query } = await alice.preference.next({ campaignId });
      if (!query) throw new Error('no pending query');
      await alice.preference.answer({ campaignId, queryIndex: query.index, choice: 0 });
    }
    const spec = await alice.preference.learnedReward({ campaignId });
    expect(spec.theta.some((value) => value !== 0)).toBe(true); // four answers moved θ̂ off zero

    const list = ['CCO ethanol', 'not-a-molecule', 'c1ccccc1O phenol', 'CC(=O)Nc1ccc(O)cc1 paracetamol'];
    const { ranked } = await alice.preference.rank({ campaignId, molecules: list.join('\n') });
    const reward = await compileMolecularReward(spec);
    const expected = reward.evaluate(['CCO', 'c1ccccc1O', 'CC(=O)Nc1ccc(O)cc1']);
    reward.dispose();
    const valid = ranked.filter((row) => row.valid);
    expect(valid.map((row) => row.reward)).toEqual([...expected].sort((a, b) => b - a));
    expect(ranked.at(-1)).toMatchObject({ smiles: 'not-a-molecule', valid: false, reward: null });

    const stranger = await callerFor(runtime, await signUp(runtime, 'stranger@example.org'));
    const refused = await stranger.preference.rank({ campaignId, molecules: 'CCO' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TRPCError);
    expect((refused as TRPCError).code).toBe('NOT_FOUND');
  });
});
