/**
 * Molecule campaigns in assembly mode (DESIGN.md §6, issue 6 item 3a): instead of a fixed pool, each option
 * is a molecule assembled from fragments of a library over H steps, and the K options of a query are the
 * K policies' paths designed by Frank–Wolfe on the fragment-assembly MDP (server/molecules/fragments.ts).
 *
 * The MDP is rebuilt deterministically from what the campaign stores (the library's canonical SMILES, H,
 * V and the seed) and kept in a small cache, so answering never waits for it after the first build.
 */
import { createHash } from 'node:crypto';
import {
  fragmentAssemblyMdp,
  fragmentLibrary,
  rawFeatureFunction,
  STOP_ACTION,
} from '../molecules/fragments';
import type { FragmentAssemblyMdp } from '../molecules/fragments';
import { loadRDKit } from '../molecules/rdkit';
import { PreferenceError } from './config';

/** What a campaign stores to rebuild its MDP. */
export interface AssemblySettings {
  horizon: number;
  vocab: number;
  mdpSeed: number;
  /** Canonical SMILES of the library the fragments come from. */
  library: string[];
  /** Fewest distinct molecules the MDP must reach (K, the options of a query). */
  minMolecules: number;
}

/** Most fragments kept from a library: the most frequent (server/molecules/fragments.ts). */
const MAX_FRAGMENTS = 200;
/** Fragments larger than this are left out of the vocabulary (whole uncut drugs are poor building blocks). */
const MAX_FRAGMENT_HEAVY_ATOMS = 20;

/** Built MDPs by settings, as promises: concurrent requests for one campaign share one build. */
const cache = new Map<string, Promise<FragmentAssemblyMdp>>();

/** The campaign's fragment-assembly MDP with z-scored φ (built once per settings, then cached). */
export async function assemblyMdp(settings: AssemblySettings): Promise<FragmentAssemblyMdp> {
  const key = createHash('sha256')
    .update(JSON.stringify([settings.horizon, settings.vocab, settings.mdpSeed, settings.library]))
    .digest('hex');
  const cached = cache.get(key);
  if (cached) return cached;
  const building = buildAssemblyMdp(settings);
  if (cache.size >= 16) cache.delete(cache.keys().next().value as string);
  cache.set(key, building);
  // A failed build is not kept: the next request tries again (and reports the same error).
  building.catch(() => cache.delete(key));
  return building;
}

async function buildAssemblyMdp(settings: AssemblySettings): Promise<FragmentAssemblyMdp> {
  const rdkit = await loadRDKit();
  const library = fragmentLibrary(rdkit, settings.library, {
    maxFragments: MAX_FRAGMENTS,
    maxHeavyAtoms: MAX_FRAGMENT_HEAVY_ATOMS,
  });
  if (library.fragments.length < 2) {
    throw new PreferenceError(
      'BAD_REQUEST',
      `the library's molecules give ${library.fragments.length} fragment(s) to assemble from; give more or larger molecules`,
    );
  }
  const built = fragmentAssemblyMdp(rdkit, library, {
    horizon: settings.horizon,
    vocab: settings.vocab,
    features: rawFeatureFunction(rdkit),
    seed: settings.mdpSeed,
    standardize: true,
  });
  if (built.molecules.length < settings.minMolecules) {
    throw new PreferenceError(
      'BAD_REQUEST',
      `the fragments assemble into ${built.molecules.length} distinct molecule(s), fewer than the ${settings.minMolecules} options of a query; give a larger library or raise H or V`,
    );
  }
  return built;
}

/** An assembled option's label: the fragments it appended, in order ("stop" and no-ops left out). */
export function assemblyLabel(steps: readonly (string | null)[]): string {
  return steps.filter((step): step is string => step !== null && step !== STOP_ACTION).join(' + ');
}
