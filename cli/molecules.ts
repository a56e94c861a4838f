/**
 * Molecule commands (DESIGN.md §3):
 *   tributary props [--in FILE]                    one JSON line per input SMILES, the keys of
 *                                                  ../shared/peers/rdkit_oracle.py props
 *   tributary train-prior --smiles FILE --out DIR  a SELFIES flow prior: DIR/prior.json, DIR/samples.csv,
 *                                                  DIR/summary.json (metrics of 1000 samples)
 *   tributary design --circuit FILE --out DIR      reward-guided merging of stored priors:
 *                                                  DIR/samples.csv (SMILES, reward), DIR/summary.json
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { readCircuitArgs } from './circuitArgs';
import { FlagReader } from './flags';
import { initTensorBackend } from '../server/engines/tensor';
import { designMolecules } from '../server/molecules/design';
import { generationMetrics } from '../server/molecules/metrics';
import { MolecularPrior, trainMolecularPrior, type StoredMolecularPrior } from '../server/molecules/prior';
import { MoleculeContext } from '../server/molecules/properties';
import { loadRDKit, parseSmilesToMol } from '../server/molecules/rdkit';
import { compileMolecularReward, molecularRewardSpecSchema } from '../server/molecules/rewards';

type UsageErrorFactory = (message: string) => Error;

/** SMILES lines as rdkit_oracle.py reads them: the first token; blank, '#' and 'smiles' header lines skipped. */
export async function* smilesLines(input: NodeJS.ReadableStream): AsyncGenerator<string> {
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    const first = line.trim().replace(/,/g, ' ').split(/\s+/)[0];
    if (first && !first.startsWith('#') && first.toLowerCase() !== 'smiles') yield first;
  }
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** `tributary props`: streams one JSON line per input; the summary goes to stderr (stdout stays pure). */
export async function runPropsCommand(args: string[]): Promise<null> {
  const { values } = parseArgs({
    args,
    options: { in: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const rdkit = await loadRDKit();
  const input = values.in ? (await import('node:fs')).createReadStream(values.in) : process.stdin;
  const started = performance.now();
  let count = 0;
  let valid = 0;
  for await (const smiles of smilesLines(input)) {
    count++;
    let mol;
    try {
      mol = parseSmilesToMol(rdkit, smiles);
    } catch {
      console.log(JSON.stringify({ input: smiles, valid: false }));
      continue;
    }
    try {
      const properties = new MoleculeContext(rdkit, mol).properties();
      valid++;
      console.log(
        JSON.stringify({
          input: smiles,
          valid: true,
          canonical: mol.get_smiles(),
          qed: round6(properties.qed),
          sa: round6(properties.sa),
          logp: round6(properties.logp),
          tpsa: round6(properties.tpsa),
          mw: round6(properties.mw),
          hba: properties.hba,
          hbd: properties.hbd,
          rotb: properties.rotb,
          heavy: properties.heavy,
          rings: properties.rings,
        }),
      );
    } finally {
      mol.delete();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.error(
    JSON.stringify({ command: 'props', molecules: count, valid, seconds, molecules_per_s: count / seconds }),
  );
  return null;
}

async function readSmilesFile(file: string, usageError: UsageErrorFactory): Promise<string[]> {
  try {
    await fs.access(file);
  } catch {
    throw usageError(`cannot read ${file}`);
  }
  const smiles: string[] = [];
  for await (const line of smilesLines((await import('node:fs')).createReadStream(file))) smiles.push(line);
  if (smiles.length === 0) throw usageError(`${file} holds no SMILES`);
  return smiles;
}

/**
 * `tributary train-prior --smiles FILE --out DIR [--steps N] [--hidden H] [--max-length L] [--seed S]
 *  [--representation one-hot|latent] [--latent-dim D] [--autoencoder-steps N]`
 */
export async function runTrainPriorCommand(args: string[], usageError: UsageErrorFactory) {
  const { values } = parseArgs({
    args,
    options: {
      smiles: { type: 'string' },
      out: { type: 'string' },
      steps: { type: 'string' },
      hidden: { type: 'string' },
      'max-length': { type: 'string' },
      seed: { type: 'string' },
      samples: { type: 'string' },
      representation: { type: 'string' },
      'latent-dim': { type: 'string' },
      'autoencoder-steps': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.smiles) throw usageError('train-prior needs --smiles FILE (one SMILES per line)');
  if (!values.out) throw usageError('train-prior needs --out DIR');
  const flags = new FlagReader(usageError);
  const steps = flags.integer('steps', values.steps, 2000, 1);
  const hidden = flags.integer('hidden', values.hidden, 512, 1);
  const maxLength = flags.integer('max-length', values['max-length'], 80, 1);
  const sampleCount = flags.integer('samples', values.samples, 1000, 1);
  const representation = values.representation ?? 'one-hot';
  if (representation !== 'one-hot' && representation !== 'latent')
    throw usageError(`--representation must be one-hot or latent, got "${representation}"`);
  const latentDimension = flags.integer('latent-dim', values['latent-dim'], 64, 2);
  const autoencoderSteps = flags.integer('autoencoder-steps', values['autoencoder-steps'], 3000, 1);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed)) throw usageError(`--seed must be an integer, got "${values.seed}"`);
  const smiles = await readSmilesFile(values.smiles, usageError);

  const backend = await initTensorBackend();
  console.error(
    `[train-prior] ${smiles.length} SMILES, ${steps} steps on ${backend.name} (${backend.kernels})`,
  );
  const { prior, stored, library } = await trainMolecularPrior(
    smiles,
    {
      steps,
      hidden,
      seed,
      representation,
      autoencoder: {
        latent: latentDimension,
        steps: autoencoderSteps,
        onStep: (info) => {
          if (info.step % Math.max(1, Math.floor(info.totalSteps / 10)) === 0)
            console.error(
              `[train-prior] autoencoder step ${info.step}/${info.totalSteps} loss ${info.loss.toFixed(2)} eta ${info.etaSeconds.toFixed(0)} s`,
            );
        },
      },
      onStep: (info) => {
        if (info.step % Math.max(1, Math.floor(steps / 10)) === 0 || info.step === steps)
          console.error(
            `[train-prior] step ${info.step}/${steps} loss ${info.loss.toFixed(1)} eta ${info.etaSeconds.toFixed(0)} s`,
          );
      },
    },
    { maxLength },
  );
  try {
    const samples = prior.sample(sampleCount, seed + 1);
    const metrics = await generationMetrics(samples, prior.trainingSmiles);
    await fs.mkdir(values.out, { recursive: true });
    await fs.writeFile(path.join(values.out, 'prior.json'), JSON.stringify(stored));
    await fs.writeFile(
      path.join(values.out, 'samples.csv'),
      stringify(
        samples.map((s) => [s]),
        { header: true, columns: ['smiles'] },
      ),
    );
    const summary = {
      command: 'train-prior',
      molecules: stored.training.molecules,
      skipped: library.skipped.length,
      skippedExamples: library.skipped.slice(0, 5),
      vocabulary: stored.symbols.length,
      length: stored.length,
      representation: prior.representation,
      dimension: prior.dimension,
      ...(stored.autoencoder && { autoencoder: stored.autoencoder.training }),
      steps,
      finalLoss: stored.training.finalLoss,
      trainSeconds: stored.training.seconds,
      backend: backend.name,
      kernels: backend.kernels,
      metrics,
    };
    await fs.writeFile(path.join(values.out, 'summary.json'), JSON.stringify(summary, null, 2));
    return summary;
  } finally {
    prior.dispose();
  }
}

/** A design as `tributary design --circuit FILE` reads it: stored priors, an operator and a reward. */
export const moleculeDesignFileSchema = z.object({
  priors: z.array(z.string().min(1)).min(1).max(8),
  operator: z.enum(['intersection', 'union']).default('intersection'),
  weights: z.array(z.number().positive()).optional(),
  reward: molecularRewardSpecSchema.optional(),
  rewardWeight: z.number().positive().default(1),
  outerSteps: z.number().int().min(1).max(10).default(1),
  sampleCount: z.number().int().min(16).max(100_000).default(2000),
  steps: z.number().int().min(1).max(100_000).default(400),
  samples: z.number().int().min(1).max(100_000).default(1000),
  /** As the design job's options (server/jobs/moleculeConfig.ts). */
  snapSamples: z.boolean().optional(),
  surrogatePool: z.number().int().min(16).max(100_000).optional(),
});

/** `tributary design --circuit FILE --out DIR [--seed S]` */
export async function runDesignCommand(args: string[], usageError: UsageErrorFactory) {
  const { file, out, seed, json } = await readCircuitArgs(
    'design',
    'priors, operator, reward',
    args,
    usageError,
  );
  const parsed = moleculeDesignFileSchema.safeParse(json);
  if (!parsed.success)
    throw usageError(`invalid design: ${z.prettifyError(parsed.error).replace(/\n/g, ' ')}`);
  const design = parsed.data;
  const base = path.dirname(path.resolve(file));
  const priors: MolecularPrior[] = [];
  try {
    for (const file of design.priors) {
      const resolved = path.resolve(base, file);
      let stored: StoredMolecularPrior;
      try {
        stored = JSON.parse(await fs.readFile(resolved, 'utf8')) as StoredMolecularPrior;
      } catch (error) {
        throw usageError(
          `cannot read prior ${resolved}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      priors.push(MolecularPrior.fromStored(stored));
    }
    await initTensorBackend();
    const reward = design.reward ? await compileMolecularReward(design.reward) : undefined;
    try {
      const result = await designMolecules({
        priors,
        operator: design.operator,
        weights: design.weights,
        reward,
        rewardWeight: design.rewardWeight,
        outerSteps: design.outerSteps,
        sampleCount: design.surrogatePool ?? design.sampleCount,
        surrogate:
          design.surrogatePool && design.surrogatePool > design.sampleCount
            ? { scored: design.sampleCount }
            : undefined,
        snapSamples: design.snapSamples,
        steps: design.steps,
        samples: design.samples,
        seed,
        onIteration: (k, s) =>
          console.error(
            `[design] mirror step ${k}: mean reward of its samples ${s.meanReward.toFixed(3)}, ESS fraction ${s.effectiveSampleFraction.toFixed(2)}${s.surrogate ? `, surrogate LOO R² ${s.surrogate.looR2.toFixed(2)}` : ''}`,
          ),
      });
      await fs.mkdir(out, { recursive: true });
      await fs.writeFile(
        path.join(out, 'samples.csv'),
        stringify(
          result.smiles.map((s, i) => [s, result.rewards[i]]),
          { header: true, columns: ['smiles', 'reward'] },
        ),
      );
      const summary = {
        command: 'design',
        operator: design.operator,
        priors: design.priors.length,
        reward_mean: result.rewardMean,
        reward_top10: result.rewardTop10,
        reward_calls: result.rewardCalls,
        metrics: result.metrics,
        iterations: result.iterations,
        seconds: result.seconds,
      };
      await fs.writeFile(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2));
      return summary;
    } finally {
      reward?.dispose();
    }
  } finally {
    for (const prior of priors) prior.dispose();
  }
}
