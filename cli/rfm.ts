/**
 * `tributary rfm --circuit circuit.json --out DIR [--seed S]`: runs a generative circuit headless.
 * circuit.json holds a circuit, or a whole RFM config ({ circuit, inner, gridSize, displaySamples }).
 * Writes DIR/<node path>.samples.csv per node, DIR/nodes.json (densities, exact targets, iterations)
 * and DIR/summary.json; returns the summary.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { readCircuitArgs } from './circuitArgs';
import { runRfmCircuit } from '../server/jobs/rfm';
import { rfmConfigSchema } from '../server/jobs/rfmConfig';
import { initTensorBackend } from '../server/engines/tensor';
import type { Env } from '../server/env';

export async function runRfmCommand(
  args: string[],
  env: () => Env,
  usageError: (message: string) => Error,
): Promise<Record<string, unknown>> {
  const { out, seed, json } = await readCircuitArgs('rfm', 'a circuit', args, usageError);
  const input = json && typeof json === 'object' && 'circuit' in json ? json : { circuit: json };
  const parsed = rfmConfigSchema.safeParse(input);
  if (!parsed.success)
    throw usageError(`invalid circuit: ${z.prettifyError(parsed.error).replace(/\n/g, ' ')}`);

  const backend = await initTensorBackend(env().TRIBUTARY_TENSOR_BACKEND);
  console.error(`[rfm] running the circuit on ${backend.name} (${backend.detail})`);
  const result = await runRfmCircuit(parsed.data, {
    seed,
    onProgress: (() => {
      let lastMessage = '';
      return (p: { fraction: number; message: string }) => {
        const phase = p.message.replace(/ \d+\/\d+$/, '');
        if (phase !== lastMessage) console.error(`[rfm] ${(100 * p.fraction).toFixed(0)}% ${phase}`);
        lastMessage = phase;
      };
    })(),
    loadModel: () => {
      throw new Error(
        'stored models (kind "model") need the platform; use priors of kind gaussian-mixture or toy here',
      );
    },
  });

  const outDir = path.resolve(out);
  await fs.mkdir(outDir, { recursive: true });
  const files: string[] = [];
  for (const node of result.nodes) {
    const file = `${node.path}.samples.csv`;
    const columns = node.samples[0]?.map((_, j) => `x${j + 1}`) ?? [];
    await fs.writeFile(path.join(outDir, file), stringify(node.samples, { header: true, columns }));
    files.push(file);
  }
  await fs.writeFile(
    path.join(outDir, 'nodes.json'),
    JSON.stringify({ grid: result.grid, nodes: result.nodes }),
  );
  await fs.writeFile(path.join(outDir, 'weights.json'), JSON.stringify(result.weights));
  const summary = {
    command: 'rfm',
    seed,
    backend: backend.name,
    seconds: result.seconds,
    nodes: result.nodes.map((n) => ({
      path: n.path,
      label: n.label,
      kind: n.kind,
      tv: n.tv ?? null,
      tvBaseline: n.tvBaseline ?? null,
      iterations: n.iterations.map((it) => ({
        k: it.k,
        gamma: it.gamma,
        ess: it.effectiveSampleSize,
        tv: it.tv ?? null,
      })),
    })),
    outDir,
    files: [...files, 'nodes.json', 'weights.json', 'summary.json'],
  };
  await fs.writeFile(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2));
  return summary;
}
