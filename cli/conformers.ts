/**
 * `tributary conformers --smiles SMILES --n N --out FILE.sdf [--energy mmff|xtb] [--seed S] [--rmsd Å]
 *                       [--method ensemble|flow] [--prior FILE.sdf]`
 * (DESIGN.md §4, issue 7 "CLI"): the baseline ensemble (OpenChemLib embeddings + random torsions + MMFF94
 * minimisation, deduplicated by heavy-atom RMSD) or, with --method flow, that ensemble extended by a
 * torsional flow steered toward low energy (merged with the conformers of --prior when given;
 * server/molecules/conformers/generate.ts), written as an SD file whose records carry all hydrogens,
 * 3-D coordinates and the MMFF94 energy as `ENERGY` (kcal/mol), lowest energy first. Returns the JSON summary
 * that cli/main.ts prints. `--energy xtb` adds GFN2-xTB single points of the MMFF94 minima (XTB_ENERGY,
 * kcal/mol; the xtb program).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initTensorBackend } from '../server/engines/tensor';
import {
  conformerEnsemble,
  describeEnsemble,
  xtbSinglePoints,
} from '../server/molecules/conformers/generate';
import { loadRDKit, parseSmiles } from '../server/molecules/rdkit';

type UsageErrorFactory = (message: string) => Error;

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

export async function runConformersCommand(
  args: string[],
  usageError: UsageErrorFactory,
): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      smiles: { type: 'string' },
      n: { type: 'string' },
      out: { type: 'string' },
      energy: { type: 'string' },
      seed: { type: 'string' },
      rmsd: { type: 'string' },
      method: { type: 'string' },
      prior: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.smiles) throw usageError('conformers needs --smiles SMILES');
  if (!values.out) throw usageError('conformers needs --out FILE.sdf');
  const n = values.n === undefined ? 30 : Number(values.n);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw usageError(`--n must be an integer from 1 to 10000, got "${values.n}"`);
  const seed = values.seed === undefined ? 42 : Number(values.seed);
  if (!Number.isInteger(seed)) throw usageError(`--seed must be an integer, got "${values.seed}"`);
  const rmsdThreshold = values.rmsd === undefined ? 0.5 : Number(values.rmsd);
  if (!(rmsdThreshold >= 0))
    throw usageError(`--rmsd must be a non-negative number (Å), got "${values.rmsd}"`);
  const energy = values.energy ?? 'mmff';
  if (energy !== 'mmff' && energy !== 'xtb')
    throw usageError(`--energy must be mmff or xtb, got "${energy}"`);

  const method = values.method ?? 'ensemble';
  if (method !== 'ensemble' && method !== 'flow')
    throw usageError(`--method must be ensemble or flow, got "${method}"`);
  if (values.prior !== undefined && method !== 'flow') throw usageError('--prior needs --method flow');
  const priorSdf = values.prior === undefined ? undefined : await fs.readFile(values.prior, 'utf8');

  if (method === 'flow') await initTensorBackend();
  const parsed = parseSmiles(await loadRDKit(), values.smiles);
  if (!parsed.valid) throw usageError(`--smiles "${values.smiles}" is not a valid SMILES: ${parsed.error}`);
  console.error(`[conformers] ${values.smiles}: ${n} conformers, MMFF94, ${method}, seed ${seed}`);
  let lastMessage = '';
  const ensemble = await conformerEnsemble(values.smiles, {
    method,
    n,
    seed,
    rmsdThreshold,
    priorSdf,
    onProgress: (message) => {
      const stage = message.replace(/\d+ candidates.*/, '');
      if (stage !== lastMessage || /0 candidates/.test(message)) console.error(`[conformers] ${message}`);
      lastMessage = stage;
    },
  });
  // --energy xtb: GFN2-xTB single points of the MMFF94 minima (the xtb program), kcal/mol.
  const xtb =
    energy === 'xtb'
      ? await xtbSinglePoints(ensemble, {
          timeoutMs: 120_000,
          onEach: (index, total) => console.error(`[conformers] GFN2-xTB single point ${index + 1}/${total}`),
        })
      : [];
  const { summary, distinct, meanPairwiseRmsd, sdf } = describeEnsemble(ensemble, {
    title: values.smiles,
    rmsdThreshold,
    xtb: xtb.length ? xtb : undefined,
  });
  await fs.mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
  await fs.writeFile(values.out, sdf);
  return {
    command: 'conformers',
    smiles: values.smiles,
    method: method === 'flow' ? 'torsional-flow-mmff' : 'ocl-random-torsions-mmff',
    ...(ensemble.flow
      ? {
          flow: {
            torsions: ensemble.flow.torsions,
            merged_with_prior: ensemble.flow.merged,
            second_prior_conformers: ensemble.secondPriorConformers ?? 0,
            steering_steps: ensemble.flow.steering.length,
            flow_candidates: ensemble.flow.flowCandidates,
            flow_conformers_kept: ensemble.flow.flowConformersKept,
            flow_candidate_mean_energy: round4(ensemble.flow.flowCandidateMeanEnergy),
          },
        }
      : {}),
    energy: energy === 'xtb' ? 'mmff94 minima, gfn2-xtb single points' : 'mmff94',
    requested: n,
    n: ensemble.conformers.length,
    rotatable_bonds: ensemble.rotatableBonds.length,
    candidates: ensemble.candidates,
    failed_minimisations: ensemble.failedMinimisations,
    stereo_changes: ensemble.stereoChanges,
    energies: { min: round4(summary.min), mean: round4(summary.mean), boltzmann: round4(summary.boltzmann) },
    ...(xtb.length
      ? {
          xtb_relative: xtb.map((value) => round4(value - Math.min(...xtb))),
        }
      : {}),
    distinct,
    rmsd_threshold: rmsdThreshold,
    mean_pairwise_rmsd: round4(meanPairwiseRmsd),
    seconds: round4(ensemble.seconds),
    out: values.out,
  };
}
