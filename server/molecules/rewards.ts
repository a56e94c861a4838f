/**
 * Molecular rewards for design runs (DESIGN.md §3): named, composable functions of a molecule, declared as
 * JSON (validated with zod) so circuits and runs can carry them, and evaluated on batches of SMILES. A SMILES
 * RDKit cannot read gets the reward's stated floor (`invalidValue`), never an exception.
 *
 * Leaves: a molecular property (QED, SA, logP, …), Tanimoto similarity to reference molecules, SMARTS
 * must-have / must-not-have constraints, structural alerts (PAINS, MCF, custom). Combinators: desirability
 * transforms onto [0, 1], pass/fail thresholds, weighted sums and products.
 */
import { z } from 'zod';
import { MOLECULE_FEATURE_NAMES, rawMoleculeFeatures } from './features';
import { PRESET_REWARD_NAMES, type PresetRewardName } from './rewardNames';
import type { AlertMatcher } from './alerts';
import { compileAlerts, loadAlertCatalog, passesMosesFilters } from './alerts';
import type { PropertyName } from './properties';
import { MoleculeContext, MOLECULAR_PROPERTIES, PROPERTY_NAMES } from './properties';
import type { MorganOptions, RDKitModule, SmartsQuery } from './rdkit';
import {
  compileSmarts,
  loadRDKit,
  MAX_SMILES_LENGTH,
  MoleculeParseError,
  morganFingerprint,
  parseSmilesToMol,
  tanimoto,
  withMolecule,
} from './rdkit';

/** Maps a value onto [0, 1] (Derringer & Suich, J. Qual. Technol. 12, 214 (1980) desirability functions). */
export type DesirabilityShape =
  /** 0 at or below `low`, 1 at or above `high`, linear in between. */
  | { type: 'increasing'; low: number; high: number }
  /** 1 at or below `low`, 0 at or above `high`, linear in between. */
  | { type: 'decreasing'; low: number; high: number }
  /** 1 inside [low, high], falling linearly to 0 over `softness` outside (default: a quarter of the width). */
  | { type: 'window'; low: number; high: number; softness?: number }
  /** Logistic 1 / (1 + exp(−(x − center) / scale)); a negative scale makes it decreasing. */
  | { type: 'sigmoid'; center: number; scale: number };

export { PRESET_REWARD_NAMES, type PresetRewardName } from './rewardNames';

export type MolecularRewardSpec =
  | { kind: 'property'; property: PropertyName }
  | {
      kind: 'similarity';
      /** Reference molecules (SMILES). */
      references: string[];
      /** How similarities to several references combine (default max). */
      aggregate?: 'max' | 'mean';
      /** Morgan radius (default 2). */
      radius?: number;
      /** Fingerprint length (default 2048). */
      nBits?: number;
    }
  | {
      kind: 'smarts';
      /** Patterns the molecule must contain. */
      mustHave?: string[];
      /** Patterns it must not contain. */
      mustNotHave?: string[];
      /** 'all' (default): 1 when every constraint holds, else 0; 'fraction': share of constraints met. */
      score?: 'all' | 'fraction';
    }
  | {
      kind: 'alerts';
      /** Bundled catalogs to apply (default both PAINS and MCF). */
      catalogs?: ('pains' | 'mcf')[];
      /** Further alerts given inline. */
      custom?: { name: string; smarts: string }[];
      /** Also apply MOSES's other rules (no charges, no rings of 8+, only C N O S F Cl Br H). */
      mosesRules?: boolean;
    }
  | { kind: 'desirability'; of: MolecularRewardSpec; shape: DesirabilityShape }
  | {
      kind: 'threshold';
      of: MolecularRewardSpec;
      min?: number;
      max?: number;
      /** Value when min ≤ x ≤ max (default 1). */
      pass?: number;
      /** Value otherwise (default 0). */
      fail?: number;
    }
  | { kind: 'weighted_sum'; terms: { weight: number; reward: MolecularRewardSpec }[]; offset?: number }
  | { kind: 'product'; factors: MolecularRewardSpec[] }
  | { kind: 'preset'; name: PresetRewardName }
  | {
      /**
       * A learned preference reward θᵀφ (DESIGN.md §6): φ = (raw − mean)/sd over features.ts's feature
       * vector, θ estimated by a preference campaign, mean and sd the campaign pool's.
       */
      kind: 'learned';
      label?: string;
      theta: number[];
      mean: number[];
      sd: number[];
    };

const smilesString = z.string().min(1).max(MAX_SMILES_LENGTH);
const smartsString = z.string().trim().min(1).max(MAX_SMILES_LENGTH);

const desirabilityShapeSchema: z.ZodType<DesirabilityShape> = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('increasing'), low: z.number(), high: z.number() }),
    z.object({ type: z.literal('decreasing'), low: z.number(), high: z.number() }),
    z.object({
      type: z.literal('window'),
      low: z.number(),
      high: z.number(),
      softness: z.number().positive().optional(),
    }),
    z.object({
      type: z.literal('sigmoid'),
      center: z.number(),
      scale: z.number().refine((scale) => scale !== 0, 'scale must not be 0'),
    }),
  ])
  .refine((shape) => shape.type === 'sigmoid' || shape.low < shape.high, 'low must be below high');

/** Named rewards, ready to use or to combine. */
export const PRESET_REWARDS: Record<PresetRewardName, MolecularRewardSpec> = {
  /** Drug-likeness (QED). */
  qed: { kind: 'property', property: 'qed' },
  /** Synthesisability as a desirability: (10 − SA) / 9, 1 for the easiest molecules. */
  synthesizability: {
    kind: 'desirability',
    of: { kind: 'property', property: 'sa' },
    shape: { type: 'decreasing', low: 1, high: 10 },
  },
  /** High QED and low SA, equally weighted. */
  qed_and_synthesizability: {
    kind: 'weighted_sum',
    terms: [
      { weight: 0.5, reward: { kind: 'property', property: 'qed' } },
      {
        weight: 0.5,
        reward: {
          kind: 'desirability',
          of: { kind: 'property', property: 'sa' },
          shape: { type: 'decreasing', low: 1, high: 10 },
        },
      },
    ],
  },
  /** Share of Lipinski's rule-of-five criteria met (MW ≤ 500, logP ≤ 5, HBD ≤ 5, HBA ≤ 10). */
  lipinski: {
    kind: 'weighted_sum',
    terms: [
      { weight: 0.25, reward: { kind: 'threshold', of: { kind: 'property', property: 'mw' }, max: 500 } },
      { weight: 0.25, reward: { kind: 'threshold', of: { kind: 'property', property: 'logp' }, max: 5 } },
      { weight: 0.25, reward: { kind: 'threshold', of: { kind: 'property', property: 'hbd' }, max: 5 } },
      { weight: 0.25, reward: { kind: 'threshold', of: { kind: 'property', property: 'hba' }, max: 10 } },
    ],
  },
  /** 1 when the molecule passes the MOSES filters (PAINS, MCF and MOSES's atom, charge and ring rules). */
  moses_filters: { kind: 'alerts', catalogs: ['pains', 'mcf'], mosesRules: true },
};

export const molecularRewardSpecSchema: z.ZodType<MolecularRewardSpec> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('property'), property: z.enum(PROPERTY_NAMES) }),
    z.object({
      kind: z.literal('similarity'),
      references: z.array(smilesString).min(1).max(1000),
      aggregate: z.enum(['max', 'mean']).optional(),
      radius: z.number().int().min(0).max(6).optional(),
      nBits: z.number().int().min(64).max(16384).multipleOf(64).optional(),
    }),
    z
      .object({
        kind: z.literal('smarts'),
        mustHave: z.array(smartsString).max(200).optional(),
        mustNotHave: z.array(smartsString).max(200).optional(),
        score: z.enum(['all', 'fraction']).optional(),
      })
      .refine(
        (spec) => (spec.mustHave?.length ?? 0) + (spec.mustNotHave?.length ?? 0) > 0,
        'give at least one SMARTS',
      ),
    z.object({
      kind: z.literal('alerts'),
      catalogs: z
        .array(z.enum(['pains', 'mcf']))
        .max(2)
        .optional(),
      custom: z
        .array(z.object({ name: z.string().min(1).max(200), smarts: smartsString }))
        .max(2000)
        .optional(),
      mosesRules: z.boolean().optional(),
    }),
    z.object({
      kind: z.literal('desirability'),
      of: molecularRewardSpecSchema,
      shape: desirabilityShapeSchema,
    }),
    z
      .object({
        kind: z.literal('threshold'),
        of: molecularRewardSpecSchema,
        min: z.number().optional(),
        max: z.number().optional(),
        pass: z.number().optional(),
        fail: z.number().optional(),
      })
      .refine((spec) => spec.min !== undefined || spec.max !== undefined, 'give min, max or both')
      .refine(
        (spec) => spec.min === undefined || spec.max === undefined || spec.min <= spec.max,
        'min must not exceed max',
      ),
    z.object({
      kind: z.literal('weighted_sum'),
      terms: z
        .array(z.object({ weight: z.number(), reward: molecularRewardSpecSchema }))
        .min(1)
        .max(32),
      offset: z.number().optional(),
    }),
    z.object({ kind: z.literal('product'), factors: z.array(molecularRewardSpecSchema).min(1).max(32) }),
    z.object({ kind: z.literal('preset'), name: z.enum(PRESET_REWARD_NAMES) }),
    z
      .object({
        kind: z.literal('learned'),
        label: z.string().max(200).optional(),
        theta: z.array(z.number()).length(MOLECULE_FEATURE_NAMES.length),
        mean: z.array(z.number()).length(MOLECULE_FEATURE_NAMES.length),
        sd: z.array(z.number().positive()).length(MOLECULE_FEATURE_NAMES.length),
      })
      .refine(
        (spec) => spec.theta.every(Number.isFinite) && spec.mean.every(Number.isFinite),
        'finite numbers',
      ),
  ]),
);

/** A reward as runs store it: the spec and the value given to molecules RDKit cannot read. */
export const molecularRewardSchema = z.object({
  name: z.string().max(100).optional(),
  reward: molecularRewardSpecSchema,
  /** Reward of an invalid SMILES (default 0: every leaf except logP is non-negative). */
  invalidValue: z.number().default(0),
});
export type MolecularReward = z.infer<typeof molecularRewardSchema>;

/** Most nodes a spec may have (a combinator tree bigger than this is a mistake, not a design). */
const MAX_SPEC_NODES = 200;
const MAX_SPEC_DEPTH = 12;

export interface RewardEvaluation {
  /** One value per input, `invalidValue` for unreadable SMILES. */
  values: Float64Array;
  /** 1 where the SMILES was a valid molecule. */
  valid: Uint8Array;
  /** RDKit's reason per invalid input (undefined for valid ones). */
  errors: (string | undefined)[];
}

/** A compiled reward: holds compiled SMARTS and reference fingerprints until `dispose()`. */
export interface CompiledMolecularReward {
  readonly spec: MolecularRewardSpec;
  readonly invalidValue: number;
  /** Values for a batch of SMILES (duplicates are computed once). */
  evaluate(smiles: readonly string[]): Float64Array;
  evaluateDetailed(smiles: readonly string[]): RewardEvaluation;
  dispose(): void;
}

type Scorer = (molecule: MoleculeContext) => number;

function desirability(shape: DesirabilityShape, x: number): number {
  switch (shape.type) {
    case 'increasing':
      return Math.min(1, Math.max(0, (x - shape.low) / (shape.high - shape.low)));
    case 'decreasing':
      return Math.min(1, Math.max(0, (shape.high - x) / (shape.high - shape.low)));
    case 'window': {
      const softness = shape.softness ?? (shape.high - shape.low) / 4;
      if (x >= shape.low && x <= shape.high) return 1;
      const distance = x < shape.low ? shape.low - x : x - shape.high;
      return Math.max(0, 1 - distance / softness);
    }
    case 'sigmoid':
      return 1 / (1 + Math.exp(-(x - shape.center) / shape.scale));
  }
}

/** Human-readable form of a spec, e.g. "0.5·QED + 0.5·desirability(SA score)". */
export function describeReward(spec: MolecularRewardSpec): string {
  switch (spec.kind) {
    case 'property':
      return MOLECULAR_PROPERTIES[spec.property].label;
    case 'similarity':
      return `${spec.aggregate ?? 'max'} Tanimoto to ${spec.references.length} reference${spec.references.length === 1 ? '' : 's'}`;
    case 'smarts':
      return `SMARTS (${spec.mustHave?.length ?? 0} required, ${spec.mustNotHave?.length ?? 0} forbidden)`;
    case 'alerts':
      return `no alerts (${[...(spec.catalogs ?? ['pains', 'mcf']), ...(spec.custom?.length ? ['custom'] : [])].join(', ')})`;
    case 'desirability':
      return `desirability(${describeReward(spec.of)})`;
    case 'threshold':
      return `[${spec.min ?? '−∞'} ≤ ${describeReward(spec.of)} ≤ ${spec.max ?? '∞'}]`;
    case 'weighted_sum':
      return spec.terms.map((term) => `${term.weight}·${describeReward(term.reward)}`).join(' + ');
    case 'product':
      return spec.factors.map((factor) => describeReward(factor)).join(' × ');
    case 'preset':
      return spec.name;
    case 'learned':
      return spec.label ?? 'learned preference';
  }
}

/**
 * Validates a spec (zod, then SMARTS and reference SMILES through RDKit) and compiles it. Throws with a
 * message that names the offending part.
 */
export async function compileMolecularReward(
  input: unknown,
  options: { invalidValue?: number; alertDirectory?: string } = {},
): Promise<CompiledMolecularReward> {
  const parsed = molecularRewardSpecSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid molecular reward: ${z.prettifyError(parsed.error)}`);
  const spec = parsed.data;
  const rdkit = await loadRDKit();
  const invalidValue = options.invalidValue ?? 0;
  const disposers: (() => void)[] = [];
  let nodes = 0;

  const compileNode = (node: MolecularRewardSpec, depth: number): Scorer => {
    if (++nodes > MAX_SPEC_NODES) throw new Error(`molecular reward has more than ${MAX_SPEC_NODES} parts`);
    if (depth > MAX_SPEC_DEPTH)
      throw new Error(`molecular reward is nested more than ${MAX_SPEC_DEPTH} deep`);
    switch (node.kind) {
      case 'property': {
        const name = node.property;
        return (molecule) => molecule.property(name);
      }
      case 'similarity':
        return compileSimilarity(rdkit, node);
      case 'smarts': {
        const required = (node.mustHave ?? []).map((smarts) => compileSmartsFor('mustHave', smarts));
        const forbidden = (node.mustNotHave ?? []).map((smarts) => compileSmartsFor('mustNotHave', smarts));
        const total = required.length + forbidden.length;
        const all = (node.score ?? 'all') === 'all';
        return (molecule) => {
          let met = 0;
          for (const query of required) if (query.matches(molecule.mol)) met++;
          for (const query of forbidden) if (!query.matches(molecule.mol)) met++;
          return all ? (met === total ? 1 : 0) : met / total;
        };
      }
      case 'alerts': {
        const catalogs = node.catalogs ?? ['pains', 'mcf'];
        const alerts = [
          ...catalogs.flatMap((catalog) => loadAlertCatalog(catalog, options.alertDirectory)),
          ...(node.custom ?? []).map((alert) => ({ catalog: 'custom' as const, ...alert })),
        ];
        const matcher: AlertMatcher = compileAlerts(rdkit, alerts);
        disposers.push(() => matcher.dispose());
        const mosesRules = node.mosesRules ?? false;
        return (molecule) =>
          (mosesRules ? passesMosesFilters(molecule.mol, matcher) : matcher.passes(molecule.mol)) ? 1 : 0;
      }
      case 'desirability': {
        const inner = compileNode(node.of, depth + 1);
        const shape = node.shape;
        return (molecule) => desirability(shape, inner(molecule));
      }
      case 'threshold': {
        const inner = compileNode(node.of, depth + 1);
        const { min = -Infinity, max = Infinity, pass = 1, fail = 0 } = node;
        return (molecule) => {
          const x = inner(molecule);
          return x >= min && x <= max ? pass : fail;
        };
      }
      case 'weighted_sum': {
        const terms = node.terms.map((term) => ({
          weight: term.weight,
          score: compileNode(term.reward, depth + 1),
        }));
        const offset = node.offset ?? 0;
        return (molecule) => terms.reduce((sum, term) => sum + term.weight * term.score(molecule), offset);
      }
      case 'product': {
        const factors = node.factors.map((factor) => compileNode(factor, depth + 1));
        return (molecule) => factors.reduce((product, factor) => product * factor(molecule), 1);
      }
      case 'preset':
        return compileNode(PRESET_REWARDS[node.name], depth + 1);
      case 'learned': {
        const { theta, mean, sd } = node;
        return (molecule) =>
          rawMoleculeFeatures(molecule).reduce(
            (sum, raw, j) => sum + (theta[j] * (raw - mean[j])) / sd[j],
            0,
          );
      }
    }
  };

  const compileSmartsFor = (field: string, smarts: string): SmartsQuery => {
    try {
      const query = compileSmarts(rdkit, smarts);
      disposers.push(() => query.dispose());
      return query;
    } catch (error) {
      throw new Error(`${field}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  };

  const compileSimilarity = (
    toolkit: RDKitModule,
    node: Extract<MolecularRewardSpec, { kind: 'similarity' }>,
  ): Scorer => {
    const fingerprintOptions: MorganOptions = { radius: node.radius ?? 2, nBits: node.nBits ?? 2048 };
    const references = node.references.map((smiles, index) => {
      try {
        return withMolecule(toolkit, smiles, (mol) => morganFingerprint(mol, fingerprintOptions));
      } catch (error) {
        if (error instanceof MoleculeParseError)
          throw new Error(`similarity reference ${index + 1}: ${error.message}`, { cause: error });
        throw error;
      }
    });
    const mean = node.aggregate === 'mean';
    return (molecule) => {
      const fingerprint = molecule.fingerprint(fingerprintOptions);
      let best = 0;
      let sum = 0;
      for (const reference of references) {
        const similarity = tanimoto(fingerprint, reference);
        best = Math.max(best, similarity);
        sum += similarity;
      }
      return mean ? sum / references.length : best;
    };
  };

  let score: Scorer;
  try {
    score = compileNode(spec, 0);
  } catch (error) {
    for (const dispose of disposers) dispose();
    throw error;
  }

  let disposed = false;
  const evaluateDetailed = (smiles: readonly string[]): RewardEvaluation => {
    if (disposed) throw new Error('molecular reward used after dispose()');
    const values = new Float64Array(smiles.length);
    const valid = new Uint8Array(smiles.length);
    const errors = Array.from<string | undefined>({ length: smiles.length });
    const seen = new Map<string, { value: number; error?: string }>();
    smiles.forEach((one, index) => {
      let result = seen.get(one);
      if (!result) {
        result = scoreOne(one);
        seen.set(one, result);
      }
      values[index] = result.error === undefined ? result.value : invalidValue;
      valid[index] = result.error === undefined ? 1 : 0;
      errors[index] = result.error;
    });
    return { values, valid, errors };
  };
  const scoreOne = (smiles: string): { value: number; error?: string } => {
    let mol;
    try {
      mol = parseSmilesToMol(rdkit, smiles);
    } catch (error) {
      if (error instanceof MoleculeParseError) return { value: invalidValue, error: error.reason };
      throw error;
    }
    try {
      const value = score(new MoleculeContext(rdkit, mol));
      // A reward is a number; anything else (NaN from a degenerate combination) counts as invalid.
      return Number.isFinite(value)
        ? { value }
        : { value: invalidValue, error: 'reward is not a finite number' };
    } finally {
      mol.delete();
    }
  };

  return {
    spec,
    invalidValue,
    evaluate: (smiles) => evaluateDetailed(smiles).values,
    evaluateDetailed,
    dispose: () => {
      if (disposed) return;
      disposed = true;
      for (const dispose of disposers) dispose();
    },
  };
}

/** Compiles, evaluates once and disposes: for one-off batches. */
export async function evaluateMolecularReward(
  reward: MolecularReward,
  smiles: readonly string[],
  options: { alertDirectory?: string } = {},
): Promise<RewardEvaluation> {
  const compiled = await compileMolecularReward(reward.reward, {
    ...options,
    invalidValue: reward.invalidValue,
  });
  try {
    return compiled.evaluateDetailed(smiles);
  } finally {
    compiled.dispose();
  }
}
