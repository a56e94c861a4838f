/**
 * Names of the preset molecular rewards (rewards.ts defines them). Kept in a module of its own, free of
 * RDKit, so that the browser can list them.
 */
export const PRESET_REWARD_NAMES = [
  'qed',
  'synthesizability',
  'qed_and_synthesizability',
  'lipinski',
  'moses_filters',
] as const;
export type PresetRewardName = (typeof PRESET_REWARD_NAMES)[number];
