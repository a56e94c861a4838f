/**
 * Preference elicitation with optimal experimental design (DESIGN.md §6, ED-PBRL) on the command line,
 * with simulated users on a synthetic token MDP (server/engines/pbrl):
 *
 *   tributary pbrl simulate --dim D --K 4 --horizon H --vocab V --queries N --design aopt|dopt|random
 *                           --seed S [--theta FILE.json] [--temperature 1]
 *     prints one JSON line {query, cosine_error, accuracy} per answered query, then the summary
 *     (returned; the dispatcher prints it as the last line).
 *   tributary bench pbrl [--seeds 20] [--random-queries 60] [--timing-dims 64,256] …
 *     over many seeds, how many designed queries reach the cosine error random selection reaches after
 *     --random-queries, and the wall time per designed query at the timing dimensions.
 */
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { FlagReader } from './flags';
import {
  querySelections,
  simulatePreferenceElicitation,
  type QuerySelection,
  type SimulationConfig,
} from '../server/engines/pbrl';

type UsageErrorFactory = (message: string) => Error;

/** Usage text for the dispatcher's command table (`tributary help pbrl`). */
export const pbrlUsage = [
  'tributary pbrl simulate [--dim 8] [--K 4] [--horizon 4] [--vocab 8] [--queries 30]',
  '                        [--design aopt|dopt|random] [--seed 0] [--theta FILE.json] [--temperature 1]',
  '  A simulated user with a hidden θ* (N(0, Id/D) from the seed, or --theta: a JSON array of D numbers)',
  '  answers K-option queries on a synthetic MDP (H steps, V tokens, features drawn from the seed).',
  '  Prints {query, cosine_error, accuracy} per query (1 − cos(θ*, θ̂); held-out choice accuracy),',
  '  then a summary {design, queries, final_cosine_error, final_accuracy, …}.',
].join('\n');

/** Usage text of `tributary bench pbrl`, for the bench entry of the command table. */
export const pbrlBenchUsage = [
  'tributary bench pbrl [--seeds 20] [--random-queries 60] [--dim 8] [--K 4] [--horizon 4] [--vocab 8]',
  '                     [--timing-dims 64,256] [--timing-queries 3]',
  '  Queries the A- and D-optimal designs need to reach the mean cosine error of random selection after',
  '  --random-queries (over --seeds simulated users), and seconds per designed query at each timing dim.',
].join('\n');

const defaults = { dim: 8, K: 4, horizon: 4, vocab: 8, queries: 30, seed: 0, temperature: 1 };

/**
 * The synthetic MDP holds (V + (H − 1)·V²)·D feature numbers; beyond this it would not fit in memory
 * comfortably (8 bytes each: 400 MB).
 */
const maxFeatureNumbers = 50_000_000;

/** `tributary pbrl <subcommand> …`. */
export async function runPbrlCommand(
  args: string[],
  usageError: UsageErrorFactory,
): Promise<Record<string, unknown>> {
  const [subcommand, ...rest] = args;
  if (subcommand === 'simulate') return runSimulate(rest, usageError);
  throw usageError(
    subcommand === undefined
      ? 'pbrl needs a subcommand: simulate'
      : `unknown pbrl subcommand "${subcommand}"`,
  );
}

async function runSimulate(args: string[], usageError: UsageErrorFactory): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      dim: { type: 'string' },
      K: { type: 'string' },
      horizon: { type: 'string' },
      vocab: { type: 'string' },
      queries: { type: 'string' },
      design: { type: 'string' },
      seed: { type: 'string' },
      theta: { type: 'string' },
      temperature: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const flags = new FlagReader(usageError);
  const design = parseDesign(values.design, usageError);
  const theta = values.theta === undefined ? undefined : await readTheta(values.theta, usageError);
  // Without --dim, --theta's length is the dimension.
  const dim = flags.integer('dim', values.dim, theta?.length ?? defaults.dim, 1);
  if (theta && theta.length !== dim) {
    throw usageError(`--theta ${values.theta} holds ${theta.length} numbers but --dim is ${dim}`);
  }
  const config: SimulationConfig = {
    dim,
    K: flags.integer('K', values.K, defaults.K, 2),
    horizon: flags.integer('horizon', values.horizon, defaults.horizon, 1),
    vocab: flags.integer('vocab', values.vocab, defaults.vocab, 1),
    queries: flags.integer('queries', values.queries, defaults.queries, 1),
    design,
    seed: flags.integer('seed', values.seed, defaults.seed, 0),
    temperature: flags.positiveNumber('temperature', values.temperature, defaults.temperature),
    theta,
  };
  checkMdpSize(config, usageError);

  console.error(
    `[pbrl] ${design}: ${config.queries} queries, K = ${config.K}, d = ${dim}, H = ${config.horizon}, ` +
      `V = ${config.vocab}, seed ${config.seed}`,
  );
  const result = simulatePreferenceElicitation(config, (record) => {
    console.log(
      JSON.stringify({ query: record.query, cosine_error: record.cosineError, accuracy: record.accuracy }),
    );
  });
  const last = result.records.at(-1);
  const designSeconds = result.records.reduce((sum, record) => sum + record.designSeconds, 0);
  return {
    design,
    queries: config.queries,
    final_cosine_error: last?.cosineError ?? null,
    final_accuracy: last?.accuracy ?? null,
    optimal_accuracy: result.optimalAccuracy,
    command: 'pbrl simulate',
    dim,
    K: config.K,
    horizon: config.horizon,
    vocab: config.vocab,
    seed: config.seed,
    temperature: config.temperature,
    theta_source: result.config.thetaSource,
    theta_star: result.thetaStar,
    theta_hat: result.thetaHat,
    standard_errors: result.standardErrors,
    design_seconds_per_query: designSeconds / config.queries,
    seconds: result.seconds,
  };
}

// --------------------------------------------------------------------------------------------- bench

export interface PbrlBenchOptions {
  seeds: number;
  randomQueries: number;
  dim: number;
  K: number;
  horizon: number;
  vocab: number;
  timingDims: number[];
  timingQueries: number;
}

/** `tributary bench pbrl …`: parses the flags, then runs runPbrlBench. */
export function runPbrlBenchCommand(
  args: string[],
  usageError: UsageErrorFactory,
): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      seeds: { type: 'string' },
      'random-queries': { type: 'string' },
      dim: { type: 'string' },
      K: { type: 'string' },
      horizon: { type: 'string' },
      vocab: { type: 'string' },
      'timing-dims': { type: 'string' },
      'timing-queries': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const flags = new FlagReader(usageError);
  const options: PbrlBenchOptions = {
    seeds: flags.integer('seeds', values.seeds, 20, 1),
    randomQueries: flags.integer('random-queries', values['random-queries'], 60, 1),
    dim: flags.integer('dim', values.dim, 8, 1),
    K: flags.integer('K', values.K, 4, 2),
    horizon: flags.integer('horizon', values.horizon, 4, 1),
    vocab: flags.integer('vocab', values.vocab, 8, 1),
    timingDims: (values['timing-dims'] ?? '64,256')
      .split(',')
      .map((value) => flags.integer('timing-dims', value.trim(), 0, 1)),
    timingQueries: flags.integer('timing-queries', values['timing-queries'], 3, 1),
  };
  for (const dim of [options.dim, ...options.timingDims]) checkMdpSize({ ...options, dim }, usageError);
  return Promise.resolve(runPbrlBench(options));
}

/**
 * The benchmark. Accuracy: for every seed (one synthetic MDP, θ* and held-out set per seed, the
 * same for the three selections), random selection answers `randomQueries` queries and the A- and
 * D-optimal designs as many; the curves of 1 − cos(θ*, θ̂) are averaged over seeds, and a design's
 * "queries to match" is the first n where its mean curve is at or below random's mean after
 * `randomQueries` (null when it never is). Timing: seconds per designed (A-optimal) query, averaged over
 * `timingQueries` queries, at each dimension of `timingDims` on the same K, H and V.
 */
export function runPbrlBench(options: PbrlBenchOptions) {
  const started = performance.now();
  const selections: QuerySelection[] = ['random', 'aopt', 'dopt'];
  const meanCurves = Object.fromEntries(
    selections.map((design) => {
      const curve = new Float64Array(options.randomQueries);
      for (let seed = 0; seed < options.seeds; seed++) {
        const result = simulatePreferenceElicitation({
          dim: options.dim,
          K: options.K,
          horizon: options.horizon,
          vocab: options.vocab,
          queries: options.randomQueries,
          design,
          seed,
        });
        result.records.forEach((record, i) => (curve[i] += record.cosineError / options.seeds));
      }
      console.error(`[bench pbrl] ${design}: ${options.seeds} seeds × ${options.randomQueries} queries`);
      return [design, curve];
    }),
  ) as Record<QuerySelection, Float64Array>;
  const target = meanCurves.random[options.randomQueries - 1];
  const queriesToMatch = (curve: Float64Array) => {
    const index = curve.findIndex((value) => value <= target);
    return index < 0 ? null : index + 1;
  };
  const checkpoints = [1, 5, 10, 15, 20, 30, 40, 50, 60, 80, 100].filter((n) => n < options.randomQueries);
  checkpoints.push(options.randomQueries);
  const curveAtCheckpoints = (curve: Float64Array) =>
    Object.fromEntries(checkpoints.map((n) => [String(n), round(curve[n - 1])]));

  const secondsPerQuery: Record<string, number> = {};
  for (const dim of options.timingDims) {
    const result = simulatePreferenceElicitation({
      dim,
      K: options.K,
      horizon: options.horizon,
      vocab: options.vocab,
      queries: options.timingQueries,
      design: 'aopt',
      seed: 0,
      heldOutQueries: 10,
    });
    const seconds = result.records.reduce((sum, record) => sum + record.designSeconds, 0);
    secondsPerQuery[String(dim)] = round(seconds / options.timingQueries);
    console.error(`[bench pbrl] d = ${dim}: ${secondsPerQuery[String(dim)]} s per designed query`);
  }
  return {
    bench: 'pbrl',
    random_queries: options.randomQueries,
    aopt_queries_to_match: queriesToMatch(meanCurves.aopt),
    dopt_queries_to_match: queriesToMatch(meanCurves.dopt),
    seconds_per_query: secondsPerQuery,
    target_cosine_error: round(target),
    seeds: options.seeds,
    dim: options.dim,
    K: options.K,
    horizon: options.horizon,
    vocab: options.vocab,
    mean_cosine_error: {
      random: curveAtCheckpoints(meanCurves.random),
      aopt: curveAtCheckpoints(meanCurves.aopt),
      dopt: curveAtCheckpoints(meanCurves.dopt),
    },
    timing_queries: options.timingQueries,
    seconds: round((performance.now() - started) / 1000),
  };
}

// ------------------------------------------------------------------------------------------- flags

function round(value: number): number {
  return Number(value.toPrecision(4));
}

function parseDesign(value: string | undefined, usageError: UsageErrorFactory): QuerySelection {
  if (value === undefined) return 'aopt';
  const design = querySelections.find((selection) => selection === value);
  if (!design) throw usageError(`--design must be one of ${querySelections.join(', ')}, got "${value}"`);
  return design;
}

/** θ* from --theta: a JSON array of finite numbers (its length is checked against --dim by the caller). */
async function readTheta(file: string, usageError: UsageErrorFactory): Promise<number[]> {
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw usageError(
      `--theta: cannot read ${file} as JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (
    !Array.isArray(json) ||
    json.length === 0 ||
    !json.every((value): value is number => typeof value === 'number' && Number.isFinite(value))
  ) {
    throw usageError(`--theta ${file} must hold a JSON array of finite numbers, one per feature (D of them)`);
  }
  return json;
}

function checkMdpSize(
  config: { dim: number; horizon: number; vocab: number },
  usageError: UsageErrorFactory,
): void {
  const { dim, horizon, vocab } = config;
  const numbers = (vocab + (horizon - 1) * vocab * vocab) * dim;
  if (numbers > maxFeatureNumbers) {
    throw usageError(
      `the synthetic MDP would hold ${numbers} feature numbers (at most ${maxFeatureNumbers}): ` +
        'reduce --vocab, --horizon or --dim',
    );
  }
}
