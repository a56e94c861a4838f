/**
 * A molecules campaign's estimate as a reward (DESIGN.md §6 → §3): θ̂ with the pool's feature means and
 * deviations is the `learned` reward of server/molecules/rewards.ts, for molecule design and for ranking
 * a molecule list.
 */
import type { AppDb } from '../../db/client';
import { compileMolecularReward } from '../molecules/rewards';
import { campaignDashboard } from './campaigns';
import { PreferenceError } from './config';
import { parseMoleculeText } from './molecules';

/** Molecules scored per slice before yielding, so that a long list never stalls other requests. */
const RANK_SLICE = 100;
const MAX_RANKED = 5000;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function learnedRewardSpec(db: AppDb, campaignId: string) {
  const { campaign } = await campaignDashboard(db, campaignId);
  const space = campaign.space;
  if (space.kind !== 'molecules') {
    throw new PreferenceError('BAD_REQUEST', 'Only a molecules campaign gives a reward for molecules.');
  }
  return {
    kind: 'learned' as const,
    label: `Preferences: ${campaign.name} (${campaign.answered} answers)`,
    theta: campaign.theta,
    mean: space.normalization.mean,
    sd: space.normalization.sd,
  };
}

export interface RankedMolecule {
  line: number;
  smiles: string;
  name: string | null;
  valid: boolean;
  error: string | null;
  reward: number | null;
}

/** Pasted molecules (a SMILES per line, optionally a name) by the learned reward, best first. */
export async function rankMolecules(db: AppDb, campaignId: string, text: string) {
  const { label: _label, ...spec } = await learnedRewardSpec(db, campaignId).catch((error: unknown) => {
    if (error instanceof PreferenceError) {
      throw new PreferenceError(error.code, 'Only a molecules campaign can rank molecules.');
    }
    throw error;
  });
  const lines = parseMoleculeText(text);
  if (lines.length === 0) throw new PreferenceError('BAD_REQUEST', 'No molecule given.');
  if (lines.length > MAX_RANKED) throw new PreferenceError('BAD_REQUEST', `At most ${MAX_RANKED} molecules.`);
  const reward = await compileMolecularReward(spec);
  try {
    const scored: RankedMolecule[] = [];
    for (let start = 0; start < lines.length; start += RANK_SLICE) {
      const slice = lines.slice(start, start + RANK_SLICE);
      const evaluation = reward.evaluateDetailed(slice.map((line) => line.smiles));
      slice.forEach((line, i) =>
        scored.push({
          line: line.line,
          smiles: line.smiles,
          name: line.name ?? null,
          valid: evaluation.valid[i] === 1,
          error: evaluation.errors[i] ?? null,
          reward: evaluation.valid[i] === 1 ? evaluation.values[i] : null,
        }),
      );
      await yieldToEventLoop();
    }
    return scored.sort(
      (a, b) => (b.reward ?? Number.NEGATIVE_INFINITY) - (a.reward ?? Number.NEGATIVE_INFINITY),
    );
  } finally {
    reward.dispose();
  }
}
