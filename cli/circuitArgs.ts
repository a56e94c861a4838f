/** The arguments shared by commands that run a JSON description: `--circuit FILE --out DIR [--seed S]`. */
import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';

export interface CircuitArgs {
  file: string;
  out: string;
  seed: number;
  /** The file's JSON, parsed (not yet validated). */
  json: unknown;
}

export async function readCircuitArgs(
  command: string,
  what: string,
  args: string[],
  usageError: (message: string) => Error,
): Promise<CircuitArgs> {
  const { values } = parseArgs({
    args,
    options: { circuit: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  if (!values.circuit) throw usageError(`${command} needs --circuit FILE (${what} as JSON)`);
  if (!values.out) throw usageError(`${command} needs --out DIR`);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed)) throw usageError(`--seed must be an integer, got "${values.seed}"`);
  try {
    return {
      file: values.circuit,
      out: values.out,
      seed,
      json: JSON.parse(await fs.readFile(values.circuit, 'utf8')),
    };
  } catch (error) {
    throw usageError(
      `cannot read ${values.circuit} as JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
