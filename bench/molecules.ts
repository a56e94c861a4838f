/**
 * `tributary bench molecules`: the molecule-design figures of the molecule issue, in one run.
 *
 *  1. A prior on ZINC (../shared/data/molecules/jtvae_zinc_valid_24k.smi) and one on the blood–brain-
 *     barrier-penetrant molecules of MoleculeNet BBBP (p_np = 1), trained in one SELFIES space (a shared
 *     vocabulary and length, so that they can be merged); the ZINC prior's validity, uniqueness, novelty,
 *     internal diversity and training time.
 *  2. Design toward high QED and easy synthesis (the `qed_and_synthesizability` preset reward) by
 *     (rfm) RFM intersection of the two priors with the reward, (single_prior) reward fine-tuning of
 *     the ZINC prior alone (same loop, one prior), and (best_of_n) sampling the ZINC prior with the same
 *     number of reward calls as RFM and keeping the best molecules; mean and top-10 reward, validity and
 *     diversity of the molecules each returns.
 *  3. Throughput of `props` (our properties) next to RDKit's own (../shared/peers/rdkit_oracle.py props)
 *     on the same 5,000 SMILES: props_ratio = ours / RDKit's molecules per second.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { initTensorBackend } from '../server/engines/tensor';
import { bestOfN, designMolecules } from '../server/molecules/design';
import { generationMetrics } from '../server/molecules/metrics';
import {
  encodeLibrary,
  trainMolecularPrior,
  trainSelfiesAutoencoder,
  type MolecularSpace,
  type PriorRepresentation,
} from '../server/molecules/prior';
import { MoleculeContext } from '../server/molecules/properties';
import { loadRDKit, withMolecule } from '../server/molecules/rdkit';
import { compileMolecularReward } from '../server/molecules/rewards';

const dataDir = path.resolve(process.cwd(), '..', 'shared', 'data', 'molecules');
const oracle = path.resolve(process.cwd(), '..', 'shared', 'peers', 'rdkit_oracle.py');

export interface MoleculeBenchOptions {
  /** ZINC molecules used for the prior (all 24k by default). */
  zincMolecules: number;
  priorSteps: number;
  hidden: number;
  /** Samples scored per mirror step, training steps per mirror step. */
  sampleCount: number;
  designSteps: number;
  /** Molecules each method returns. */
  keep: number;
  seed: number;
  /** β in the target p·exp(β·f/α) (the design form's default is 5). */
  rewardWeight: number;
  /** α of the ZINC and BBBP priors in the RFM intersection (default 1, 1). */
  priorWeights: [number, number];
  /** Learning rate of the design's inner training. */
  designLearningRate: number;
  /** Snap each mirror step's samples to their molecule's point before training (default: design.ts's). */
  snapSamples?: boolean;
  /**
   * Pool drawn per mirror step when a reward surrogate scores all but `sampleCount` of it (design.ts);
   * null: no surrogate, the pool is the `sampleCount` scored molecules.
   */
  surrogatePool: number | null;
  /** The priors' space: relaxed one-hot SELFIES, or an autoencoder's latents (prior.ts). */
  representation: PriorRepresentation;
  /** Latent priors: the autoencoder's latent dimension and training steps. */
  latentDimension: number;
  autoencoderSteps: number;
}

function readSmiles(file: string): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/[\s,]+/)[0])
    .filter((s) => s && s.toLowerCase() !== 'smiles');
}

/** BBBP penetrant molecules (p_np = 1): columns num,name,p_np,smiles. */
function bbbpPenetrant(): string[] {
  const lines = fs.readFileSync(path.join(dataDir, 'moleculenet_bbbp.csv'), 'utf8').split('\n').slice(1);
  return lines
    .map((line) => line.split(','))
    .filter((cells) => cells.length >= 4 && cells[2] === '1')
    .map((cells) => cells.slice(3).join(',').trim())
    .filter(Boolean);
}

async function propsThroughput(smiles: string[]) {
  const rdkit = await loadRDKit();
  const started = performance.now();
  for (const s of smiles) {
    try {
      withMolecule(rdkit, s, (mol) => new MoleculeContext(rdkit, mol).properties());
    } catch {
      // invalid molecules count as processed, as in the peer
    }
  }
  const ours = smiles.length / ((performance.now() - started) / 1000);
  const peerStarted = performance.now();
  const peer = spawnSync('/usr/bin/python3', [oracle, 'props'], {
    input: smiles.join('\n'),
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const peerSeconds = (performance.now() - peerStarted) / 1000;
  if (peer.status !== 0) return { ours, rdkit: null, ratio: null, reason: peer.stderr.slice(0, 300) };
  return { ours, rdkit: smiles.length / peerSeconds, ratio: ours / (smiles.length / peerSeconds) };
}

function designFigures(result: {
  rewardMean: number;
  rewardTop10: number;
  rewardCalls: number;
  metrics: { validity: number; int_div: number; uniqueness: number };
  iterations?: {
    k: number;
    effectiveSampleFraction: number;
    surrogate?: { lambda: number; looR2: number };
  }[];
}) {
  const surrogates = result.iterations?.flatMap((iteration) =>
    iteration.surrogate ? [iteration.surrogate] : [],
  );
  return {
    ...(surrogates?.length && { surrogate_loo_r2: surrogates.map((fit) => fit.looR2) }),
    // The effective sample fraction of each mirror step's weights (how many scored molecules carried it).
    ...(result.iterations && {
      ess_fraction: result.iterations.map((iteration) => iteration.effectiveSampleFraction),
    }),
    mean_reward: result.rewardMean,
    top10_reward: result.rewardTop10,
    validity: result.metrics.validity,
    int_div: result.metrics.int_div,
    uniqueness: result.metrics.uniqueness,
    reward_calls: result.rewardCalls,
  };
}

export async function runMoleculeBench(options: MoleculeBenchOptions) {
  const backend = await initTensorBackend();
  const zinc = readSmiles(path.join(dataDir, 'jtvae_zinc_valid_24k.smi')).slice(0, options.zincMolecules);
  const bbbp = bbbpPenetrant();
  // One SELFIES space for both priors: the vocabulary and length of their union.
  const library = await encodeLibrary([...zinc, ...bbbp], { maxLength: 60 });
  console.error(
    `[bench molecules] space: ${library.vocabulary.symbols.length} symbols × ${library.length} positions; ZINC ${zinc.length}, BBBP ${bbbp.length}`,
  );
  // Latent priors: one autoencoder for both, trained on the union (priors merge only within one space).
  const autoencoder =
    options.representation === 'latent'
      ? await trainSelfiesAutoencoder(library, {
          latent: options.latentDimension,
          steps: options.autoencoderSteps,
          seed: options.seed + 20,
          onStep: (info) => {
            if (info.step % Math.max(1, Math.floor(info.totalSteps / 5)) === 0)
              console.error(
                `[bench molecules] autoencoder step ${info.step}/${info.totalSteps}, loss ${info.loss.toFixed(2)}`,
              );
          },
        })
      : undefined;
  if (autoencoder) console.error(`[bench molecules] autoencoder: ${JSON.stringify(autoencoder.training)}`);
  const space: MolecularSpace = { vocabulary: library.vocabulary, length: library.length, autoencoder };
  const trainIn = async (smiles: string[], steps: number, seed: number) => {
    const { prior, stored } = await trainMolecularPrior(
      smiles,
      {
        steps,
        hidden: options.hidden,
        seed,
        onStep: (info) => {
          if (info.step % Math.max(1, Math.floor(steps / 5)) === 0)
            console.error(`[bench molecules] prior step ${info.step}/${steps}, loss ${info.loss.toFixed(1)}`);
        },
      },
      space,
    );
    return { prior, seconds: stored.training.seconds };
  };

  const zincPrior = await trainIn(zinc, options.priorSteps, options.seed);
  const bbbpPrior = await trainIn(bbbp, Math.max(200, Math.round(options.priorSteps / 2)), options.seed + 10);
  const reward = await compileMolecularReward({ kind: 'preset', name: 'qed_and_synthesizability' });
  try {
    const priorSamples = zincPrior.prior.sample(1000, options.seed + 2);
    const priorMetrics = await generationMetrics(priorSamples, zincPrior.prior.trainingSmiles);
    const priorRewards = Array.from(reward.evaluate(priorSamples));
    const priorRewardMean = priorRewards.reduce((a, b) => a + b, 0) / priorRewards.length;
    console.error(`[bench molecules] prior: ${JSON.stringify(priorMetrics)}`);

    const common = {
      reward,
      rewardWeight: options.rewardWeight,
      outerSteps: 1,
      sampleCount: options.surrogatePool ?? options.sampleCount,
      surrogate: options.surrogatePool ? { scored: options.sampleCount } : undefined,
      steps: options.designSteps,
      samples: options.keep,
      learningRate: options.designLearningRate,
      snapSamples: options.snapSamples,
      seed: options.seed + 3,
    };
    const rfm = await designMolecules({
      ...common,
      priors: [zincPrior.prior, bbbpPrior.prior],
      weights: options.priorWeights,
      operator: 'intersection',
    });
    const single = await designMolecules({ ...common, priors: [zincPrior.prior], operator: 'intersection' });
    const best = await bestOfN(zincPrior.prior, reward, rfm.rewardCalls, options.keep, options.seed + 4);

    const propsSmiles = readSmiles(path.join(dataDir, 'jtvae_zinc_test_5k.smi')).slice(0, 5000);
    const throughput = await propsThroughput(propsSmiles);
    return {
      bench: 'molecules',
      prior: {
        validity: priorMetrics.validity,
        uniqueness: priorMetrics.uniqueness,
        novelty: priorMetrics.novelty,
        int_div: priorMetrics.int_div,
        filters: priorMetrics.filters,
        qed_mean: priorMetrics.properties.qed.mean,
        // The reward's mean over the prior's samples: what each design method moves away from.
        reward_mean: priorRewardMean,
        train_seconds: zincPrior.seconds + (autoencoder?.training.seconds ?? 0),
        ...(autoencoder && {
          autoencoder: {
            reconstruction: autoencoder.training.reconstruction,
            final_loss: autoencoder.training.finalLoss,
            train_seconds: autoencoder.training.seconds,
            latent: options.latentDimension,
          },
        }),
        molecules: zinc.length,
        dimension: zincPrior.prior.dimension,
      },
      design: {
        rfm: designFigures(rfm),
        best_of_n: designFigures(best),
        single_prior: designFigures(single),
      },
      props_ratio: throughput.ratio,
      props_mol_per_s: { ours: throughput.ours, rdkit: throughput.rdkit },
      backend: `${backend.name}+${backend.kernels}`,
      options,
    };
  } finally {
    reward.dispose();
    zincPrior.prior.dispose();
    bbbpPrior.prior.dispose();
  }
}
