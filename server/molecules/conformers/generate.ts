/**
 * One entry point for a conformer ensemble of either method (DESIGN.md §4), shared by `tributary conformers`,
 * the conformer job and `bench conformers`:
 *   'ensemble': OpenChemLib embeddings + random torsions, each MMFF94-minimised, RMSD-deduplicated
 *               (ensemble.ts);
 *   'flow':     that ensemble as the base, a torsional flow trained on it (merged by intersection with a
 *               second prior read off an SD file, when given), steered toward low MMFF94 energy, its samples
 *               minimised and added (torsionalFlow.ts).
 * `seconds` of a flow ensemble includes its base ensemble.
 */
import { generateEnsemble, type Ensemble } from './ensemble';
import { distinctConformerIndices, energySummary, meanPairwiseRmsd } from './metrics';
import { heavyAtomGraph, SymmetricRmsd } from './rmsd';
import { writeSdf } from './sdf';
import { torsionsFromSdf } from './sdfTorsions';
import {
  generateTorsionalEnsemble,
  type TorsionalEnsembleOptions,
  type TorsionalFlowReport,
} from './torsionalFlow';
import { xtbEnergy } from './xtb';

export type ConformerMethod = 'ensemble' | 'flow';

export interface ConformerRequest {
  method: ConformerMethod;
  n: number;
  seed: number;
  rmsdThreshold: number;
  /** An SD file of conformers of the same molecule: a second prior, merged with the base (flow only). */
  priorSdf?: string;
  onProgress?: (message: string, fraction: number) => void | Promise<void>;
  signal?: AbortSignal;
  /** Flow only: the flow's training and sampling sizes, when not torsionalFlow.ts's defaults (tests). */
  flowSizes?: Pick<TorsionalEnsembleOptions, 'training' | 'inner' | 'candidates'>;
}

export async function conformerEnsemble(
  smiles: string,
  request: ConformerRequest,
): Promise<Ensemble & { flow?: TorsionalFlowReport; secondPriorConformers?: number }> {
  if (request.priorSdf !== undefined && request.method !== 'flow')
    throw new Error('a second prior (SD file) needs the flow method');
  const maxCandidates = 3 * request.n + 10;
  const base = await generateEnsemble(smiles, {
    n: request.n,
    seed: request.seed,
    rmsdThreshold: request.rmsdThreshold,
    maxCandidates,
    onCandidate: async (candidates, kept) => {
      const share = request.method === 'flow' ? 0.4 : 0.95;
      await request.onProgress?.(
        `base ensemble: ${candidates} candidates minimised, ${kept} distinct`,
        share * Math.min(1, candidates / maxCandidates),
      );
      // Each minimisation blocks for ~0.1 s: let an in-process server answer between them.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  });
  if (request.method === 'ensemble') return base;
  const second = request.priorSdf === undefined ? undefined : await torsionsFromSdf(request.priorSdf, base);
  // The flow reports its stages synchronously; a progress report that fails (a cancelled job) aborts it.
  let stages = 0;
  let progressError: Error | undefined;
  const abort = new AbortController();
  const forwardAbort = () => abort.abort();
  request.signal?.addEventListener('abort', forwardAbort, { once: true });
  try {
    const flow = await generateTorsionalEnsemble(smiles, {
      n: request.n,
      seed: request.seed,
      rmsdThreshold: request.rmsdThreshold,
      baseEnsemble: base,
      secondPriorTorsions: second?.torsions,
      ...request.flowSizes,
      signal: abort.signal,
      onProgress: (stage) => {
        stages++;
        Promise.resolve(
          request.onProgress?.(`torsional flow: ${stage}`, Math.min(0.95, 0.4 + 0.05 * stages)),
        ).catch((error: unknown) => {
          progressError ??= error instanceof Error ? error : new Error(String(error));
          abort.abort();
        });
      },
    });
    if (progressError !== undefined) throw progressError;
    return {
      ...flow,
      seconds: base.seconds + flow.seconds,
      ...(second ? { secondPriorConformers: second.count } : {}),
    };
  } catch (error) {
    throw progressError ?? error;
  } finally {
    request.signal?.removeEventListener('abort', forwardAbort);
  }
}

/** GFN2-xTB single points (kcal/mol) of an ensemble's conformers, one `xtb` process each (xtb.ts). */
export async function xtbSinglePoints(
  ensemble: Ensemble,
  options: { timeoutMs: number; onEach?: (index: number, total: number) => void | Promise<void> },
): Promise<number[]> {
  const energies: number[] = [];
  for (const [index, conformer] of ensemble.conformers.entries()) {
    await options.onEach?.(index, ensemble.conformers.length);
    const result = await xtbEnergy(ensemble.topology, conformer.coordinates, {
      timeoutMs: options.timeoutMs,
    });
    energies.push(result.energyKcal);
  }
  return energies;
}

/**
 * What the CLI and the job report of an ensemble: its energy summary, diversity (distinct conformers at the
 * RMSD threshold, mean pairwise heavy-atom RMSD) and the SD file, each record carrying ENERGY, ORIGIN and,
 * when given, XTB_ENERGY.
 */
export function describeEnsemble(
  ensemble: Ensemble,
  options: { title: string; rmsdThreshold: number; xtb?: readonly number[] },
) {
  const { conformers, topology } = ensemble;
  const summary = energySummary(conformers.map((conformer) => conformer.energy));
  const coordinates = conformers.map((conformer) => conformer.coordinates);
  const rmsd = new SymmetricRmsd(heavyAtomGraph(topology)).matrix(coordinates, coordinates);
  const sdf = writeSdf(
    topology,
    conformers.map((conformer, index) => ({
      name: `${options.title} conformer ${index + 1}`,
      coordinates: conformer.coordinates,
      properties: {
        ENERGY: conformer.energy.toFixed(4),
        ORIGIN: conformer.origin,
        ...(options.xtb ? { XTB_ENERGY: options.xtb[index].toFixed(4) } : {}),
      },
    })),
  );
  return {
    summary,
    distinct: distinctConformerIndices(rmsd, options.rmsdThreshold).length,
    meanPairwiseRmsd: meanPairwiseRmsd(rmsd),
    sdf,
  };
}
