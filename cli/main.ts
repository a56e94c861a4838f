/**
 * The `tributary` command line (bin/tributary.mjs runs this file through tsx).
 *
 * Conventions every command follows: human-readable progress goes to stderr; the last stdout line is one
 * JSON summary; usage errors exit with 2, runtime errors with 1, both with a message on stderr. Commands
 * are entries of one table, so adding one (e.g. `rfm`, `bench …`) is adding an entry.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'csv-stringify/sync';
import { defaultTorchFlowPeer, runFlowTrainBench } from '../bench/flowTrain';
import { runMatMulBench } from '../bench/matmul';
import { pbrlBenchUsage, pbrlUsage, runPbrlBenchCommand, runPbrlCommand } from './pbrl';
import { runConformersCommand } from './conformers';
import { runConformerBench } from '../bench/conformers';
import { FlagReader } from './flags';
import { runDesignCommand, runPropsCommand, runTrainPriorCommand } from './molecules';
import { perturbUsage, runPerturbationBench, runPerturbCommand } from './perturb';
import { runMoleculeBench } from '../bench/molecules';
import { runRfm2dBench } from '../bench/rfm2d';
import { initTensorBackend } from '../server/engines/tensor';
import { loadEnv, type Env } from '../server/env';
import { flow2dConfigSchema, runFlow2d, type Flow2dProgress } from '../server/jobs/flow2d';
import { codeVersion, packageVersion } from '../server/version';
import { runRfmCommand } from './rfm';

/** A mistake in how the command was called (exit code 2), as opposed to a failure while running (1). */
export class UsageError extends Error {}

type Summary = Record<string, unknown>;

interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /**
   * Returns the JSON summary printed as the last stdout line, or null for a command whose stdout is a
   * stream of records (props), which prints its summary to stderr.
   */
  run(args: string[]): Promise<Summary | null>;
}

const commands: CliCommand[] = [
  {
    name: 'help',
    summary: 'Show this help (also --help, or no arguments).',
    usage: 'tributary help [command]',
    run: (args) => Promise.resolve(printHelp(args[0])),
  },
  {
    name: 'info',
    summary: 'Version, tensor backend and matrix kernels, database mode and data folder, as JSON.',
    usage: 'tributary info',
    run: runInfo,
  },
  {
    name: 'flow2d',
    summary: 'Train a flow on a 2-D toy density; write samples, loss, density grid and weights.',
    usage: [
      'tributary flow2d --out DIR [--density moons] [--steps 1500] [--seed 0] [--sample-count 1000]',
      '                 [--hidden 128] [--layers 3] [--batch-size 256] [--lr 0.002] [--solver rk4]',
      '                 [--ode-steps 50] [--grid-size 48]',
      '  densities: moons, rings, gaussian-mixture, checkerboard, swiss-roll; solvers: euler, heun, rk4',
      '  Writes DIR/samples.csv, loss.csv, density.json, weights.json, summary.json.',
    ].join('\n'),
    run: runFlow2dCommand,
  },
  {
    name: 'rfm',
    summary: 'Run a generative circuit (RFM) headless; write samples per node and a JSON summary.',
    usage: [
      'tributary rfm --circuit circuit.json --out DIR [--seed 0]',
      '  circuit.json: a circuit, e.g. {"type":"operator","operator":"intersection","children":[…]},',
      '  or { "circuit": …, "inner": {…}, "gridSize": 30 }. Writes DIR/<node>.samples.csv, nodes.json,',
      '  weights.json and summary.json (TV to the exact target per node where it is known).',
    ].join('\n'),
    run: (args) => runRfmCommand(args, cliEnv, (message) => new UsageError(message)),
  },
  {
    name: 'props',
    summary: 'Chemistry properties of SMILES (QED, SA, logP, TPSA, MW, HBA/HBD, …), one JSON line each.',
    usage: [
      'tributary props [--in FILE]',
      '  Reads SMILES (first token of each line) from FILE or stdin; writes one JSON line per input with the',
      '  keys of shared/peers/rdkit_oracle.py props; the throughput summary goes to stderr.',
    ].join('\n'),
    run: runPropsCommand,
  },
  {
    name: 'train-prior',
    summary: 'Train a SELFIES flow prior on a SMILES library.',
    usage: [
      'tributary train-prior --smiles FILE --out DIR [--steps 2000] [--hidden 512] [--max-length 80]',
      '                      [--samples 1000] [--seed 0] [--representation one-hot|latent] [--latent-dim 64]',
      '                      [--autoencoder-steps 3000]',
      '  Writes DIR/prior.json (flow, vocabulary, training metadata), DIR/samples.csv and DIR/summary.json',
      '  (validity, uniqueness, novelty, internal diversity, filters, properties of the samples).',
      '  --representation latent trains a SELFIES autoencoder first and the flow in its latent space.',
    ].join('\n'),
    run: (args) => runTrainPriorCommand(args, (message) => new UsageError(message)),
  },
  {
    name: 'design',
    summary: 'Design molecules: merge stored priors under a chemistry reward (RFM).',
    usage: [
      'tributary design --circuit FILE --out DIR [--seed S]',
      '  FILE: {"priors": ["a/prior.json", …], "operator": "intersection"|"union", "reward": {…},',
      '         "rewardWeight": 1, "outerSteps": 1, "sampleCount": 2000, "steps": 400, "samples": 1000}',
      '  Writes DIR/samples.csv (smiles, reward) and DIR/summary.json (reward mean/top-10, metrics).',
    ].join('\n'),
    run: (args) => runDesignCommand(args, (message) => new UsageError(message)),
  },
  {
    name: 'conformers',
    summary: 'Low-energy 3-D conformers of a molecule (MMFF94), written as SDF.',
    usage: [
      'tributary conformers --smiles SMILES --n N --out FILE.sdf [--energy mmff|xtb] [--seed S] [--rmsd 0.5]',
      '                     [--method ensemble|flow] [--prior FILE.sdf]',
      '  OpenChemLib conformers, random torsions and MMFF94 minimisation, deduplicated by heavy-atom RMSD;',
      '  every record has explicit hydrogens, 3-D coordinates and an ENERGY property (kcal/mol). --method',
      '  flow adds conformers from a torsional flow trained on them (merged with --prior) and steered toward',
      '  low energy; --energy xtb adds GFN2-xTB single points (XTB_ENERGY).',
    ].join('\n'),
    run: (args) => runConformersCommand(args, (message) => new UsageError(message)),
  },
  {
    name: 'perturb',
    summary:
      'Perturbation screens: synthetic screens (synth), LCD training (fit), predictions (predict), causal matrix (clipr).',
    usage: perturbUsage,
    run: (args) => runPerturbCommand(args, (message) => new UsageError(message)),
  },
  {
    name: 'pbrl',
    summary: 'Preference elicitation with optimal experimental design (ED-PBRL) on simulated users.',
    usage: pbrlUsage,
    run: (args) => runPbrlCommand(args, (message) => new UsageError(message)),
  },
  {
    name: 'bench',
    summary:
      'Benchmarks: matmul, flow-train (against PyTorch), rfm2d, pbrl, molecules, perturbation, conformers.',
    usage: [
      'tributary bench matmul [--seconds 1] [--threads N] [--quick] [--no-torch]',
      '  GFLOP/s of our matrix products (native path, portable SGEMM), the WASM kernel and PyTorch for',
      '  1024³ and the flow engine’s shapes; --quick skips the WASM kernel on 1024³ (≈1 s per product).',
      'tributary bench flow-train [--dims 2,64] [--seconds 5] [--threads N] [--also-wasm]',
      '                           [--torch-peer PATH | --no-torch]',
      '  Training steps/s of the DESIGN reference flow (MLP 3×256 SiLU, batch 1024, Adam) in our engine',
      '  and in PyTorch (shared/peers/torch_flow_bench.py), with the ratio; --also-wasm adds plain WASM.',
      'tributary bench rfm2d [--seed 0]',
      '  RFM on random 2-D Gaussian-mixture priors: total variation to the exact target per operator.',
      '  Threads default to TRIBUTARY_BLAS_THREADS (the cores available); PyTorch gets the same number.',
      pbrlBenchUsage,
      'tributary bench molecules [--quick] [--zinc-molecules N] [--prior-steps N] [--reward-weight 30] [--seed S]',
      '  [--prior-weights 1,0.05] [--design-steps 2000] [--design-lr 2e-3] [--snap|--no-snap] [--surrogate-pool N]',
      '  [--representation latent|one-hot] [--latent-dim 64] [--autoencoder-steps N]',
      '  ZINC and BBBP priors in one SELFIES space (by default the latent space of one autoencoder); RFM vs',
      '  best-of-N vs one prior toward QED and easy synthesis; props throughput next to RDKit.',
      'tributary bench perturbation [--quick]',
      '  Reader throughput (h5ad, MTX), CLIPR AUROC on synthetic screens, LCD vs additive on held-out',
      '  doubles, LCD training steps/s at d = 50 and 300.',
      'tributary bench conformers [--quick] [--molecules 50] [--drugs 20] [--conformers 30] [--seed 42]',
      '                           [--method ensemble|flow]',
      '  Our ensembles vs RDKit ETKDG + MMFF on GEOM-QM9 test and drug-like ZINC molecules: min / mean MMFF94',
      "  energy (RDKit on both), distinct conformers, COV-R / MAT-R against RDKit's, seconds per molecule.",
      '  --quick: 5 + 3 molecules, 10 conformers.',
    ].join('\n'),
    run: runBenchCommand,
  },
];

function findCommand(name: string): CliCommand | undefined {
  return commands.find((command) => command.name === name);
}

function printHelp(commandName?: string): Summary {
  const command = commandName ? findCommand(commandName) : undefined;
  if (commandName && !command) throw new UsageError(`unknown command "${commandName}"`);
  if (command) {
    console.log(`${command.summary}\n\nUsage:\n  ${command.usage.split('\n').join('\n  ')}`);
  } else {
    const width = Math.max(...commands.map((c) => c.name.length));
    console.log(
      'Tributary: scientific discovery with generative flows.\n\nUsage: tributary <command> [options]\n',
    );
    console.log('Commands:');
    for (const c of commands) console.log(`  ${c.name.padEnd(width)}  ${c.summary}`);
    console.log('\nRun `tributary <command> --help` for a command’s options. The last stdout line is JSON.');
  }
  return { command: 'help', commands: commands.map((c) => c.name) };
}

// ---------------------------------------------------------------------------------------------- info

/** The validated environment; a bad variable is the caller's mistake (exit 2). */
function cliEnv(): Env {
  try {
    return loadEnv();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function runInfo(args: string[]): Promise<Summary> {
  parseArgs({ args, options: {}, strict: true, allowPositionals: false });
  const env = cliEnv();
  const backend = await initTensorBackend(env.TRIBUTARY_TENSOR_BACKEND);
  return {
    command: 'info',
    version: packageVersion,
    codeVersion: codeVersion(),
    tensorBackend: backend.name,
    tensorKernels: backend.kernels,
    backendDetail: backend.detail,
    databaseMode: env.DATABASE_URL ? 'postgresql' : 'pglite',
    dataDir: env.dataDir,
    node: process.version,
  };
}

// -------------------------------------------------------------------------------------------- flow2d

/** CLI flag → config key, and whether the flag's value is a number. */
const flow2dFlags = {
  density: { key: 'density', numeric: false },
  steps: { key: 'steps', numeric: true },
  seed: { key: 'seed', numeric: true },
  'sample-count': { key: 'sampleCount', numeric: true },
  hidden: { key: 'hidden', numeric: true },
  layers: { key: 'layers', numeric: true },
  'batch-size': { key: 'batchSize', numeric: true },
  lr: { key: 'learningRate', numeric: true },
  solver: { key: 'solver', numeric: false },
  'ode-steps': { key: 'odeSteps', numeric: true },
  'grid-size': { key: 'gridSize', numeric: true },
} as const;

type Flow2dFlag = keyof typeof flow2dFlags;

function parseFlow2dArgs(args: string[]) {
  const options = Object.fromEntries(
    [...Object.keys(flow2dFlags), 'out'].map((flag) => [flag, { type: 'string' as const }]),
  );
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  const raw: Record<string, unknown> = {};
  for (const [flag, { key, numeric }] of Object.entries(flow2dFlags)) {
    const value = values[flag];
    if (typeof value !== 'string') continue;
    if (numeric) {
      const number = value.trim() === '' ? Number.NaN : Number(value);
      if (!Number.isFinite(number)) throw new UsageError(`--${flag} must be a number, got "${value}"`);
      raw[key] = number;
    } else {
      raw[key] = value;
    }
  }
  const parsed = flow2dConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const flag = Object.entries(flow2dFlags).find(([, spec]) => spec.key === key)?.[0] as
        Flow2dFlag | undefined;
      return `--${flag ?? key}: ${issue.message}`;
    });
    throw new UsageError(`invalid flow2d options: ${problems.join('; ')}`);
  }
  const out = values.out;
  if (typeof out !== 'string' || out === '') throw new UsageError('flow2d needs --out DIR');
  return { config: parsed.data, outDir: path.resolve(out) };
}

/** Progress on stderr at every tenth of training and at each later phase. */
function progressPrinter() {
  let lastDecile = 0;
  let lastPhase = 'Training';
  return (p: Flow2dProgress) => {
    const phase = p.phase ?? 'Training';
    if (phase === 'Training') {
      const decile = Math.floor((10 * p.step) / p.totalSteps);
      if (decile <= lastDecile) return;
      lastDecile = decile;
      const eta = p.etaSeconds.toFixed(1);
      console.error(
        `[flow2d] step ${p.step}/${p.totalSteps} (${decile * 10}%) loss ${p.loss.toFixed(4)} eta ${eta}s`,
      );
    } else if (phase !== lastPhase) {
      lastPhase = phase;
      console.error(`[flow2d] ${phase.toLowerCase()}…`);
    }
  };
}

async function runFlow2dCommand(args: string[]): Promise<Summary> {
  const { config, outDir } = parseFlow2dArgs(args);
  const backend = await initTensorBackend(cliEnv().TRIBUTARY_TENSOR_BACKEND);
  console.error(`[flow2d] ${config.density}, ${config.steps} steps on ${backend.name} (${backend.detail})`);
  const result = await runFlow2d(config, { onProgress: progressPrinter() });

  await fs.mkdir(outDir, { recursive: true });
  const files = {
    'samples.csv': stringify(result.samples, { header: true, columns: ['x', 'y'] }),
    'loss.csv': stringify(result.lossCurve, { header: true, columns: ['step', 'loss'] }),
    'density.json': JSON.stringify(result.density),
    'weights.json': JSON.stringify(result.weights),
  };
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(outDir, name), text);

  const summary = {
    command: 'flow2d',
    config,
    finalLoss: result.metrics.finalLoss,
    backend: result.metrics.backend,
    backendDetail: backend.detail,
    trainSeconds: result.metrics.trainSeconds,
    stepsPerSecond: result.metrics.stepsPerSecond,
    sampleSeconds: result.metrics.sampleSeconds,
    densitySeconds: result.metrics.densitySeconds,
    meanLogLikelihood: result.metrics.meanLogLikelihood ?? null,
    outDir,
    files: [...Object.keys(files), 'summary.json'],
  };
  await fs.writeFile(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2));
  return summary;
}

// --------------------------------------------------------------------------------------------- bench

const flags = new FlagReader((message) => new UsageError(message));

/** A positive number, or with `integer` a positive integer (cli/flags.ts). */
function positiveNumber(flag: string, value: string | undefined, fallback: number, integer = false): number {
  return integer ? flags.integer(flag, value, fallback, 1) : flags.positiveNumber(flag, value, fallback);
}

async function runBenchCommand(args: string[]): Promise<Summary> {
  const [name, ...rest] = args;
  const env = cliEnv();
  await initTensorBackend(env.TRIBUTARY_TENSOR_BACKEND);
  switch (name) {
    case 'matmul': {
      const { values } = parseArgs({
        args: rest,
        options: {
          seconds: { type: 'string' },
          threads: { type: 'string' },
          quick: { type: 'boolean' },
          'no-torch': { type: 'boolean' },
        },
        strict: true,
        allowPositionals: false,
      });
      return runMatMulBench({
        seconds: positiveNumber('seconds', values.seconds, 1),
        threads: positiveNumber('threads', values.threads, env.TRIBUTARY_BLAS_THREADS, true),
        quick: values.quick ?? false,
        torch: !values['no-torch'],
      });
    }
    case 'flow-train': {
      const { values } = parseArgs({
        args: rest,
        options: {
          dims: { type: 'string' },
          seconds: { type: 'string' },
          threads: { type: 'string' },
          'also-wasm': { type: 'boolean' },
          'torch-peer': { type: 'string' },
          'no-torch': { type: 'boolean' },
        },
        strict: true,
        allowPositionals: false,
      });
      const dimensions = (values.dims ?? '2,64').split(',').map((d) => positiveNumber('dims', d, 0, true));
      return runFlowTrainBench({
        dimensions,
        seconds: positiveNumber('seconds', values.seconds, 5),
        threads: positiveNumber('threads', values.threads, env.TRIBUTARY_BLAS_THREADS, true),
        alsoWasm: values['also-wasm'] ?? false,
        torchPeer: values['no-torch'] ? null : (values['torch-peer'] ?? defaultTorchFlowPeer),
      });
    }
    case 'rfm2d': {
      const { values } = parseArgs({
        args: rest,
        options: { seed: { type: 'string' } },
        strict: true,
        allowPositionals: false,
      });
      const seed = values.seed === undefined ? 0 : Number(values.seed);
      if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${values.seed}"`);
      return runRfm2dBench(seed);
    }
    case 'pbrl':
      return runPbrlBenchCommand(rest, (message) => new UsageError(message));
    case 'perturbation':
      return runPerturbationBench(rest, (message) => new UsageError(message));
    case 'molecules': {
      const { values } = parseArgs({
        args: rest,
        options: {
          quick: { type: 'boolean' },
          'zinc-molecules': { type: 'string' },
          'prior-steps': { type: 'string' },
          'reward-weight': { type: 'string' },
          'prior-weights': { type: 'string' },
          'design-steps': { type: 'string' },
          'design-lr': { type: 'string' },
          snap: { type: 'boolean' },
          'no-snap': { type: 'boolean' },
          'surrogate-pool': { type: 'string' },
          representation: { type: 'string' },
          'latent-dim': { type: 'string' },
          'autoencoder-steps': { type: 'string' },
          seed: { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      });
      const quick = values.quick ?? false;
      const priorWeights = (values['prior-weights'] ?? '1,0.05').split(',').map(Number);
      if (priorWeights.length !== 2 || !priorWeights.every((a) => Number.isFinite(a) && a > 0)) {
        throw new UsageError('--prior-weights takes two positive numbers, α_ZINC,α_BBBP (e.g. 1,0.05)');
      }
      const representation = values.representation ?? 'latent';
      if (representation !== 'latent' && representation !== 'one-hot')
        throw new UsageError('--representation must be latent or one-hot');
      return runMoleculeBench({
        representation,
        latentDimension: positiveNumber('latent-dim', values['latent-dim'], 64, true),
        autoencoderSteps: positiveNumber(
          'autoencoder-steps',
          values['autoencoder-steps'],
          quick ? 2500 : 4000,
          true,
        ),
        zincMolecules: positiveNumber(
          'zinc-molecules',
          values['zinc-molecules'],
          quick ? 3000 : 24_000,
          true,
        ),
        priorSteps: positiveNumber('prior-steps', values['prior-steps'], quick ? 600 : 3000, true),
        hidden: 512,
        sampleCount: quick ? 500 : 2000,
        designSteps: positiveNumber('design-steps', values['design-steps'], 2000, true),
        keep: quick ? 200 : 1000,
        seed: flags.integer('seed', values.seed, 0, 0),
        rewardWeight: positiveNumber('reward-weight', values['reward-weight'], 30),
        priorWeights: [priorWeights[0], priorWeights[1]],
        designLearningRate: positiveNumber('design-lr', values['design-lr'], 2e-3),
        snapSamples: values.snap ? true : values['no-snap'] ? false : undefined,
        surrogatePool:
          values['surrogate-pool'] === undefined
            ? null
            : positiveNumber('surrogate-pool', values['surrogate-pool'], 2000, true),
      });
    }
    case 'conformers': {
      const { values } = parseArgs({
        args: rest,
        options: {
          quick: { type: 'boolean' },
          molecules: { type: 'string' },
          drugs: { type: 'string' },
          conformers: { type: 'string' },
          seed: { type: 'string' },
          method: { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      });
      const quick = values.quick ?? false;
      const method = values.method ?? 'ensemble';
      if (method !== 'ensemble' && method !== 'flow')
        throw new UsageError('--method must be ensemble or flow');
      return runConformerBench({
        method,
        qm9Molecules: flags.integer('molecules', values.molecules, quick ? 5 : 50, 0),
        drugMolecules: flags.integer('drugs', values.drugs, quick ? 3 : 20, 0),
        conformers: positiveNumber('conformers', values.conformers, quick ? 10 : 30, true),
        seed: positiveNumber('seed', values.seed, 42, true),
      });
    }
    default:
      throw new UsageError(
        name === undefined
          ? 'bench needs a name: matmul, flow-train, rfm2d, pbrl, molecules, perturbation or conformers'
          : `unknown benchmark "${name}"`,
      );
  }
}

// ------------------------------------------------------------------------------------------ dispatch

/** Runs one command line; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first === '--help' || first === '-h') {
      console.log(JSON.stringify(printHelp()));
      return 0;
    }
    const command = findCommand(first);
    if (!command) throw new UsageError(`unknown command "${first}"`);
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(JSON.stringify(printHelp(command.name)));
      return 0;
    }
    const summary = await command.run(rest);
    if (summary) console.log(JSON.stringify(summary));
    return 0;
  } catch (error) {
    const usage = error instanceof UsageError || isParseArgsError(error);
    const message = error instanceof Error ? error.message : String(error);
    console.error(`tributary: ${usage ? 'usage error' : 'error'}: ${message}`);
    if (usage) console.error('Run `tributary --help` for usage.');
    return usage ? 2 : 1;
  }
}

/** node:util parseArgs rejects unknown or malformed options with these codes. */
function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

// Run when executed directly (`tsx cli/main.ts …`); bin/tributary.mjs imports it and calls main itself.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
