/**
 * Generated-molecule metrics (DESIGN.md §3), under the MOSES conventions (Polykovskiy et al. 2020,
 * "Molecular Sets (MOSES)", metrics section):
 *   validity      fraction of samples RDKit parses (an empty string is invalid);
 *   uniqueness@k  distinct canonical SMILES among the first k valid samples, divided by k' = min(k, valid);
 *   novelty       fraction of the distinct valid molecules that are not in the training set;
 *   IntDiv        1 − mean pairwise Tanimoto similarity (Morgan radius 2, 2048 bits) over distinct
 *                 valid molecules (MOSES IntDiv₁; pairs i ≠ j);
 *   filters       fraction of distinct valid molecules passing the MOSES filters (alerts.ts);
 *   properties    mean and standard deviation of QED, SA, logP, MW per set, and the difference of means
 *                 to the training set's.
 */
import { compileAlerts, loadAlertCatalog, passesMosesFilters, type AlertMatcher } from './alerts';
import { MoleculeContext } from './properties';
import { loadRDKit, parseSmiles, tanimoto, withMolecule, type RDKitModule } from './rdkit';

export interface GenerationMetrics {
  samples: number;
  validity: number;
  uniqueness: number;
  /** uniqueness@1k and @10k when there are that many valid samples (else null). */
  uniqueness_1k: number | null;
  uniqueness_10k: number | null;
  novelty: number | null;
  int_div: number;
  filters: number;
  properties: Record<'qed' | 'sa' | 'logp' | 'mw', { mean: number; sd: number }>;
}

let mosesMatcher: AlertMatcher | undefined;

function mosesAlerts(rdkit: RDKitModule): AlertMatcher {
  return (mosesMatcher ??= compileAlerts(rdkit, [...loadAlertCatalog('mcf'), ...loadAlertCatalog('pains')]));
}

function meanAndSd(values: number[]): { mean: number; sd: number } {
  if (values.length === 0) return { mean: Number.NaN, sd: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return { mean, sd: Math.sqrt(variance) };
}

/** Internal diversity (MOSES IntDiv₁) of fingerprints; at most `maxPairs` pairs, evenly spread. */
export function internalDiversity(fingerprints: readonly Uint8Array[], maxPairs = 500_000): number {
  const n = fingerprints.length;
  if (n < 2) return 0;
  const pairs = (n * (n - 1)) / 2;
  const stride = Math.max(1, Math.floor(pairs / maxPairs));
  let sum = 0;
  let counted = 0;
  let index = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, index++) {
      if (index % stride !== 0) continue;
      sum += tanimoto(fingerprints[i], fingerprints[j]);
      counted++;
    }
  }
  return 1 - sum / counted;
}

/** The metrics of `samples` (SMILES, in sampling order) against an optional training set. */
export async function generationMetrics(
  samples: readonly string[],
  training?: ReadonlySet<string>,
): Promise<GenerationMetrics> {
  const rdkit = await loadRDKit();
  const validCanonical: string[] = [];
  for (const smiles of samples) {
    if (!smiles) continue;
    const parsed = parseSmiles(rdkit, smiles);
    if (parsed.valid) validCanonical.push(parsed.canonical);
  }
  const distinct = [...new Set(validCanonical)];
  const uniquenessAt = (k: number) =>
    validCanonical.length >= k ? new Set(validCanonical.slice(0, k)).size / k : null;
  const fingerprints: Uint8Array[] = [];
  const props = { qed: [] as number[], sa: [] as number[], logp: [] as number[], mw: [] as number[] };
  let passing = 0;
  const matcher = mosesAlerts(rdkit);
  for (const smiles of distinct) {
    withMolecule(rdkit, smiles, (mol) => {
      const context = new MoleculeContext(rdkit, mol);
      fingerprints.push(context.fingerprint());
      props.qed.push(context.property('qed'));
      props.sa.push(context.property('sa'));
      props.logp.push(context.property('logp'));
      props.mw.push(context.property('mw'));
      if (passesMosesFilters(mol, matcher)) passing++;
    });
  }
  return {
    samples: samples.length,
    validity: samples.length ? validCanonical.length / samples.length : 0,
    uniqueness: validCanonical.length ? distinct.length / validCanonical.length : 0,
    uniqueness_1k: uniquenessAt(1000),
    uniqueness_10k: uniquenessAt(10_000),
    novelty:
      training && distinct.length ? distinct.filter((s) => !training.has(s)).length / distinct.length : null,
    int_div: internalDiversity(fingerprints),
    filters: distinct.length ? passing / distinct.length : 0,
    properties: {
      qed: meanAndSd(props.qed),
      sa: meanAndSd(props.sa),
      logp: meanAndSd(props.logp),
      mw: meanAndSd(props.mw),
    },
  };
}
