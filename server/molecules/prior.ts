/**
 * Molecular priors (DESIGN.md §3): flows over SELFIES strings relaxed to R^{L×V}. A library of SMILES is
 * encoded as SELFIES over a vocabulary built from it, padded with [nop] to length L and one-hot encoded;
 * a flow (server/engines/flows, §1) is trained on those vectors by conditional flow matching; a sample
 * x ∈ R^{L×V} decodes by argmax per position to a SELFIES string, which always decodes to a valid
 * molecule (the SELFIES grammar's guarantee), then to SMILES.
 *
 * The one-hot vectors are trained as ±h (h = 4 by default: a symbol's coordinate +h, the others −h),
 * not 0/1: against the N(0, I) source, 0/1 coordinates are buried in unit noise over most of the path
 * and an MLP flow learned almost nothing of them in our runs (ZINC, 2000 molecules, 800 steps: samples
 * indistinguishable from random symbols), while ±4 made chains and rings appear. Argmax decoding does not
 * depend on h.
 *
 * A prior can instead live in a learned latent space (`representation: 'latent'`): a categorical
 * autoencoder (server/engines/autoencoder.ts) maps each padded SELFIES to z ∈ R^d (d = 64 by default) and
 * back to per-position logits, and the flow is trained on the library's latents; a sample decodes by
 * argmax of the decoder's logits. In L·V ≈ 4,000 one-hot coordinates an MLP flow did not learn ZINC
 * (samples' QED 0.31 against the library's 0.73), while in 64 dimensions flow matching, likelihoods and
 * reward fine-tuning are the well-conditioned problems §1–§2 test (BENCHMARKS.md, molecule design).
 * Priors merge only within one space: the same vocabulary, length and autoencoder.
 */
import {
  MlpVelocityField,
  sampleFromFlow,
  trainFlowMatching,
  weightedRowSampler,
  type MlpVelocityFieldWeights,
  type TrainStepInfo,
} from '../engines/flows';
import { FlowDensity } from '../engines/rfm';
import {
  CategoricalAutoencoder,
  trainAutoencoder,
  type CategoricalAutoencoderConfig,
  type CategoricalAutoencoderWeights,
  type TrainAutoencoderOptions,
  type TrainAutoencoderResult,
} from '../engines/autoencoder';
import { createHash, randomUUID } from 'node:crypto';
import { loadRDKit, parseSmiles } from './rdkit';
import {
  argmaxToSelfies,
  buildVocabulary,
  decodeSelfies,
  oneHotSelfies,
  selfiesToIndices,
  smilesToSelfies,
  splitSelfies,
  vocabularyFromSymbols,
  type SelfiesVocabulary,
} from './selfies';

/** h: one-hot coordinates are trained as ±h. */
export const DEFAULT_HALF_WIDTH = 4;

/** The SMILES that could not enter the training set, with the reason. */
export interface SkippedMolecule {
  smiles: string;
  reason: string;
}

export interface EncodedLibrary {
  vocabulary: SelfiesVocabulary;
  /** L: symbols per string (the longest kept SELFIES, at most maxLength). */
  length: number;
  /** n × (L·V) one-hot rows, as ±h (see the header). */
  vectors: Float32Array;
  /** n × L symbol indices (the same strings, as the autoencoder reads them). */
  classes: Int32Array;
  /** RDKit canonical SMILES of the kept molecules, in row order (novelty is measured against these). */
  canonical: string[];
  skipped: SkippedMolecule[];
}

/**
 * Encodes a SMILES library for a prior: canonicalise (RDKit), SELFIES, vocabulary, pad, one-hot.
 * Molecules that do not parse, that SELFIES cannot represent, or whose SELFIES is longer than
 * `maxLength` are skipped with their reason; duplicates (same canonical SMILES) are kept once.
 */
export async function encodeLibrary(
  smiles: readonly string[],
  options: { maxLength?: number; vocabulary?: SelfiesVocabulary; length?: number; halfWidth?: number } = {},
): Promise<EncodedLibrary> {
  const halfWidth = options.halfWidth ?? DEFAULT_HALF_WIDTH;
  const rdkit = await loadRDKit();
  const maxLength = options.length ?? options.maxLength ?? 80;
  const skipped: SkippedMolecule[] = [];
  const seen = new Set<string>();
  const kept: { canonical: string; selfies: string }[] = [];
  for (const input of smiles) {
    const parsed = parseSmiles(rdkit, input);
    if (!parsed.valid) {
      skipped.push({ smiles: input, reason: parsed.error });
      continue;
    }
    if (seen.has(parsed.canonical)) continue;
    seen.add(parsed.canonical);
    let selfies: string;
    try {
      selfies = smilesToSelfies(rdkit, parsed.canonical);
    } catch (error) {
      skipped.push({ smiles: input, reason: error instanceof Error ? error.message : String(error) });
      continue;
    }
    const symbols = splitSelfies(selfies);
    if (symbols.length > maxLength) {
      skipped.push({ smiles: input, reason: `SELFIES of ${symbols.length} symbols, over ${maxLength}` });
      continue;
    }
    if (options.vocabulary && symbols.some((symbol) => !options.vocabulary?.indexOf.has(symbol))) {
      skipped.push({ smiles: input, reason: 'a SELFIES symbol outside the prior’s vocabulary' });
      continue;
    }
    kept.push({ canonical: parsed.canonical, selfies });
  }
  if (kept.length === 0) throw new Error('no molecule of the library could be encoded');
  const selfiesList = kept.map((k) => k.selfies);
  const vocabulary = options.vocabulary ?? buildVocabulary(selfiesList, []);
  const length = options.length ?? Math.max(...selfiesList.map((s) => splitSelfies(s).length));
  const classes = new Int32Array(selfiesList.length * length);
  selfiesList.forEach((selfies, row) =>
    classes.set(selfiesToIndices(selfies, vocabulary, length), row * length),
  );
  return {
    vocabulary,
    length,
    vectors: oneHotSelfies(selfiesList, vocabulary, length).map((bit) => (bit ? halfWidth : -halfWidth)),
    classes,
    canonical: kept.map((k) => k.canonical),
    skipped,
  };
}

/** Decodes relaxed one-hot samples to SMILES: argmax per position → SELFIES → SMILES ('' if empty). */
export function decodeSamples(
  samples: Float32Array,
  vocabulary: SelfiesVocabulary,
  length: number,
): { selfies: string[]; smiles: string[] } {
  const n = samples.length / (length * vocabulary.symbols.length);
  const selfies = argmaxToSelfies(samples, n, length, vocabulary);
  const smiles = selfies.map((s) => {
    try {
      return decodeSelfies(s);
    } catch {
      return '';
    }
  });
  return { selfies, smiles };
}

/**
 * Each row's vertex of the relaxed one-hot cube: per position (blocks of `symbols` coordinates) +h at the
 * largest coordinate and −h elsewhere. Argmax decoding gives the same molecule before and after.
 */
export function snapToOneHot(points: Float32Array, symbols: number, halfWidth: number): Float32Array {
  if (points.length % symbols !== 0)
    throw new Error('points do not split into blocks of the vocabulary size');
  const out = new Float32Array(points.length).fill(-halfWidth);
  for (let start = 0; start < points.length; start += symbols) {
    let best = start;
    for (let j = start + 1; j < start + symbols; j++) if (points[j] > points[best]) best = j;
    out[best] = halfWidth;
  }
  return out;
}

/** How a prior's flow sees molecules: relaxed one-hot coordinates, or an autoencoder's latents. */
export type PriorRepresentation = 'one-hot' | 'latent';

/** The engine's training options, plus the network's latent dimension d (default 64) and width. */
export type AutoencoderTrainingOptions = Partial<
  Omit<TrainAutoencoderOptions, 'autoencoder' | 'classes'> &
    Pick<CategoricalAutoencoderConfig, 'latent' | 'hidden'>
>;

/** A trained autoencoder as priors store it; `id` names the latent space (priors merge only within one). */
export interface StoredSelfiesAutoencoder {
  id: string;
  weights: CategoricalAutoencoderWeights;
  training: Pick<TrainAutoencoderResult, 'finalLoss' | 'seconds' | 'reconstruction'> & {
    steps: number;
    molecules: number;
  };
}

/** Where priors live: a vocabulary and length, and for latent priors the autoencoder. */
export interface MolecularSpace {
  vocabulary: SelfiesVocabulary;
  length: number;
  autoencoder?: StoredSelfiesAutoencoder;
}

/**
 * Trains the autoencoder of a latent space on an encoded library (server/engines/autoencoder.ts):
 * reconstruction (exact round trips of up to 2,000 training molecules) is reported with it.
 */
export async function trainSelfiesAutoencoder(
  library: EncodedLibrary,
  options: AutoencoderTrainingOptions = {},
): Promise<StoredSelfiesAutoencoder> {
  const steps = options.steps ?? 3000;
  const autoencoder = CategoricalAutoencoder.create(
    {
      positions: library.length,
      classes: library.vocabulary.symbols.length,
      latent: options.latent ?? 64,
      hidden: options.hidden ?? 512,
      layers: 2,
    },
    options.seed ?? 0,
  );
  try {
    const result = await trainAutoencoder({
      autoencoder,
      classes: library.classes,
      steps,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      klWeight: options.klWeight,
      seed: (options.seed ?? 0) + 1,
      onStep: options.onStep,
      signal: options.signal,
    });
    return {
      id: randomUUID(),
      weights: autoencoder.getWeights(),
      training: {
        steps,
        molecules: library.canonical.length,
        finalLoss: result.finalLoss,
        seconds: result.seconds,
        reconstruction: result.reconstruction,
      },
    };
  } finally {
    autoencoder.dispose();
  }
}

export interface PriorTrainingOptions {
  steps: number;
  batchSize?: number;
  learningRate?: number;
  hidden?: number;
  layers?: number;
  seed?: number;
  ema?: number;
  /**
   * 'latent': train a flow on an autoencoder's latents (the space's autoencoder when given, else one
   * trained on this library first with `autoencoder`'s options). Default 'one-hot'.
   */
  representation?: PriorRepresentation;
  autoencoder?: AutoencoderTrainingOptions;
  onStep?: (info: TrainStepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

/** What is stored for a prior: the flow, its vocabulary and length, and how it was trained. */
export interface StoredMolecularPrior {
  format: 'tributary.molecular-prior/v1';
  weights: MlpVelocityFieldWeights;
  symbols: string[];
  length: number;
  /** Present for latent priors: the flow lives in this autoencoder's latent space. */
  autoencoder?: StoredSelfiesAutoencoder;
  training: {
    molecules: number;
    skipped: number;
    /** sha256 of the sorted canonical SMILES of the training set. */
    dataHash: string;
    steps: number;
    finalLoss: number;
    seconds: number;
  };
  /** The training set's canonical SMILES (novelty; capped to keep the stored model small). */
  trainingSmiles: string[];
}

/** A loaded prior: the flow as a density, plus how to decode its samples. */
export class MolecularPrior {
  constructor(
    readonly field: MlpVelocityField,
    readonly vocabulary: SelfiesVocabulary,
    readonly length: number,
    readonly trainingSmiles: ReadonlySet<string>,
    /** The latent space's autoencoder (owned by this prior) and its id; absent for one-hot priors. */
    readonly latent?: { id: string; autoencoder: CategoricalAutoencoder },
  ) {
    const expected = latent ? latent.autoencoder.latentDimension : length * vocabulary.symbols.length;
    if (field.dimension !== expected) {
      throw new Error(`the prior's flow has dimension ${field.dimension}, its space ${expected}`);
    }
  }

  static fromStored(stored: StoredMolecularPrior): MolecularPrior {
    if (stored.format !== 'tributary.molecular-prior/v1') throw new Error('not a stored molecular prior');
    const field = MlpVelocityField.fromWeights(stored.weights);
    const autoencoder = stored.autoencoder && CategoricalAutoencoder.fromWeights(stored.autoencoder.weights);
    try {
      return new MolecularPrior(
        field,
        vocabularyFromSymbols(stored.symbols),
        stored.length,
        new Set(stored.trainingSmiles),
        stored.autoencoder && autoencoder ? { id: stored.autoencoder.id, autoencoder } : undefined,
      );
    } catch (error) {
      field.dispose();
      autoencoder?.dispose();
      throw error;
    }
  }

  get dimension(): number {
    return this.field.dimension;
  }

  get representation(): PriorRepresentation {
    return this.latent ? 'latent' : 'one-hot';
  }

  /** Names the space the flow lives in: priors merge only when these are equal. */
  get spaceKey(): string {
    return [this.latent?.id ?? 'one-hot', this.length, ...this.vocabulary.symbols].join(' ');
  }

  /**
   * The prior as a density for RFM. In L·V ≈ 10³–10⁴ dimensions the change-of-variables likelihood is
   * estimated with 4 Hutchinson probes per molecule (each a vector–Jacobian product through the whole
   * ODE): 16 made one design step on 500 molecules take minutes on two cores.
   */
  density(odeSteps = 20): FlowDensity {
    return new FlowDensity(this.field, { odeSteps, probes: 4, chunkSize: 256 });
  }

  /** Points of the flow's space (n × dimension) to SELFIES and SMILES ('' if a string decodes to none). */
  decode(points: Float32Array): { selfies: string[]; smiles: string[] } {
    const scores = this.latent ? this.latent.autoencoder.decodeLogits(points) : points;
    return decodeSamples(scores, this.vocabulary, this.length);
  }

  /**
   * Each point replaced by the point of the molecule it decodes to: the ±h one-hot vertex, or the latent
   * mean of the decoded string. Decoding gives the same molecule before and after.
   */
  project(points: Float32Array): Float32Array {
    if (!this.latent) return snapToOneHot(points, this.vocabulary.symbols.length, DEFAULT_HALF_WIDTH);
    const { autoencoder } = this.latent;
    return autoencoder.encode(autoencoder.decode(points));
  }

  /** n molecules sampled from the flow (ODE from N(0, I), RK4), decoded to SMILES. */
  sample(n: number, seed: number, odeSteps = 20): string[] {
    return this.decode(sampleFromFlow(this.field, n, { steps: odeSteps, seed })).smiles;
  }

  dispose(): void {
    this.field.dispose();
    this.latent?.autoencoder.dispose();
  }
}

/** Trains a prior on a SMILES library (§3 with §1's conditional flow matching). */
export async function trainMolecularPrior(
  smiles: readonly string[],
  options: PriorTrainingOptions,
  /**
   * maxLength; or another prior's space (vocabulary, length and for latent priors the autoencoder) to
   * train in, since priors merge only within one space.
   */
  encodeOptions: { maxLength?: number } | MolecularSpace = {},
): Promise<{ prior: MolecularPrior; stored: StoredMolecularPrior; library: EncodedLibrary }> {
  const space = 'vocabulary' in encodeOptions ? encodeOptions : undefined;
  const library = await encodeLibrary(
    smiles,
    space ? { vocabulary: space.vocabulary, length: space.length } : encodeOptions,
  );
  const latent = options.representation === 'latent' || Boolean(space?.autoencoder);
  const storedAutoencoder = latent
    ? (space?.autoencoder ??
      (await trainSelfiesAutoencoder(library, {
        seed: options.seed,
        signal: options.signal,
        ...options.autoencoder,
      })))
    : undefined;
  const autoencoder = storedAutoencoder && CategoricalAutoencoder.fromWeights(storedAutoencoder.weights);
  const seed = options.seed ?? 0;
  const data = autoencoder ? autoencoder.encode(library.classes) : library.vectors;
  const dimension = autoencoder
    ? autoencoder.latentDimension
    : library.length * library.vocabulary.symbols.length;
  const field = MlpVelocityField.create(
    { dimension, hidden: options.hidden ?? 256, layers: options.layers ?? 3, activation: 'silu' },
    seed,
  );
  const n = library.canonical.length;
  try {
    const result = await trainFlowMatching({
      field,
      sampleData: weightedRowSampler(data, dimension, new Float64Array(n).fill(1)),
      steps: options.steps,
      batchSize: options.batchSize ?? 128,
      learningRate: options.learningRate ?? 1e-3,
      seed: seed + 1,
      ema: options.ema ? { decay: options.ema } : undefined,
      onStep: options.onStep,
      signal: options.signal,
    });
    const stored: StoredMolecularPrior = {
      format: 'tributary.molecular-prior/v1',
      weights: field.getWeights(),
      symbols: [...library.vocabulary.symbols],
      length: library.length,
      ...(storedAutoencoder && { autoencoder: storedAutoencoder }),
      training: {
        molecules: n,
        skipped: library.skipped.length,
        dataHash: createHash('sha256')
          .update([...library.canonical].sort().join('\n'))
          .digest('hex'),
        steps: options.steps,
        finalLoss: result.finalLoss,
        seconds: result.seconds,
      },
      trainingSmiles: library.canonical.slice(0, 50_000),
    };
    const prior = new MolecularPrior(
      field,
      library.vocabulary,
      library.length,
      new Set(library.canonical),
      storedAutoencoder && autoencoder ? { id: storedAutoencoder.id, autoencoder } : undefined,
    );
    return { prior, stored, library };
  } catch (error) {
    field.dispose();
    autoencoder?.dispose();
    throw error;
  }
}
