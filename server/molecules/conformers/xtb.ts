/**
 * GFN2-xTB energies (DESIGN.md §4: the optional, more accurate energy) through the `xtb` program (Debian's
 * package; Bannwarth, Ehlert & Grimme, JCTC 2019). One process per structure, in a temporary folder that
 * is removed afterwards, with a timeout: a worker never waits on a stuck calculation. Single points keep
 * the geometry; `optimize` relaxes it with xtb's own optimiser (ANCopt) and returns the new coordinates.
 *
 * The total energy is read from xtb's summary ("TOTAL ENERGY … Eh") and converted with
 * 1 Eh = 627.509474 kcal/mol (CODATA 2018), so it can sit next to MMFF94's kcal/mol — as relative
 * energies only: the two scales have different zeros.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeXyz } from './sdf';
import type { MoleculeTopology } from './structure';

export const HARTREE_IN_KCAL_PER_MOL = 627.509474;

export interface XtbOptions {
  /** Total charge (default: the sum of the formal charges). */
  charge?: number;
  /** Relax the geometry (xtb --opt) instead of a single point. */
  optimize?: boolean;
  /** Kill the calculation after this long (default 120 s). */
  timeoutMs?: number;
  /** The program (default `xtb` on the PATH, or TRIBUTARY_XTB). */
  binary?: string;
}

export interface XtbResult {
  energyHartree: number;
  energyKcal: number;
  /** The relaxed coordinates (optimize), else the input's. */
  coordinates: Float64Array;
  seconds: number;
}

export class XtbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XtbError';
  }
}

/** Whether the xtb program runs here (the optional energy is offered only then). */
export async function xtbAvailable(binary = defaultBinary()): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 10_000 }, (error) => resolve(!error));
  });
}

function defaultBinary(): string {
  return process.env.TRIBUTARY_XTB ?? 'xtb';
}

function readXyzCoordinates(text: string, atomCount: number): Float64Array {
  const lines = text.split(/\r?\n/);
  const out = new Float64Array(3 * atomCount);
  for (let atom = 0; atom < atomCount; atom++) {
    const fields = (lines[2 + atom] ?? '').trim().split(/\s+/);
    for (let k = 0; k < 3; k++) out[3 * atom + k] = Number(fields[1 + k]);
  }
  if (!out.every(Number.isFinite)) throw new XtbError('xtb wrote an unreadable optimised geometry');
  return out;
}

/** GFN2-xTB energy of one structure (header). */
export async function xtbEnergy(
  topology: MoleculeTopology,
  coordinates: Float64Array,
  options: XtbOptions = {},
): Promise<XtbResult> {
  if (coordinates.length !== 3 * topology.atomCount)
    throw new XtbError(`${coordinates.length / 3} coordinates for ${topology.atomCount} atoms`);
  const started = performance.now();
  const charge = options.charge ?? topology.charges.reduce((sum, c) => sum + c, 0);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tributary-xtb-'));
  try {
    await fs.writeFile(path.join(dir, 'input.xyz'), writeXyz(topology, [{ name: 'input', coordinates }]));
    const args = ['input.xyz', '--gfn', '2', '--chrg', String(charge), options.optimize ? '--opt' : '--sp'];
    const output = await new Promise<string>((resolve, reject) => {
      execFile(
        options.binary ?? defaultBinary(),
        args,
        {
          cwd: dir,
          timeout: options.timeoutMs ?? 120_000,
          maxBuffer: 64 * 1024 * 1024,
          // One thread: the worker's cores are shared; xtb would otherwise take them all.
          env: { ...process.env, OMP_NUM_THREADS: '1', OMP_STACKSIZE: '500M' },
        },
        (error, stdout, stderr) => {
          if (error) {
            const reason = error.killed
              ? `timed out after ${((options.timeoutMs ?? 120_000) / 1000).toFixed(0)} s`
              : `${error.message}\n${stderr.slice(-500)}`;
            reject(new XtbError(`xtb failed: ${reason}`, { cause: error }));
          } else resolve(stdout);
        },
      );
    });
    const matches = [...output.matchAll(/TOTAL ENERGY\s+(-?\d+\.\d+)\s+Eh/g)];
    const last = matches.at(-1);
    if (!last) throw new XtbError('xtb finished without a total energy');
    const energyHartree = Number(last[1]);
    const relaxed = options.optimize
      ? readXyzCoordinates(await fs.readFile(path.join(dir, 'xtbopt.xyz'), 'utf8'), topology.atomCount)
      : coordinates;
    return {
      energyHartree,
      energyKcal: energyHartree * HARTREE_IN_KCAL_PER_MOL,
      coordinates: relaxed,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
