/**
 * The molecules domain of a preference campaign: pool mode (DESIGN.md §6) over a list of molecules, pasted
 * as SMILES at creation or the default list of well-known drugs (data/drugs.ts).
 *
 * Features φ of a molecule: server/molecules/features.ts (descriptors plus a projected fingerprint),
 * z-scored over the pool (mean 0, standard deviation 1; a constant coordinate becomes 0), so that θ's
 * coordinates are comparable: θ_j is the change in log-odds of being chosen per standard deviation of
 * feature j across the pool. The means and deviations are kept with the campaign, so a learned θ applies
 * to molecules outside the pool: φ = (raw − mean) / sd.
 */
import {
  FINGERPRINT_PROJECTION,
  MOLECULE_DESCRIPTORS,
  MOLECULE_FEATURE_NAMES,
  projectFingerprint,
  rawMoleculeFeatures,
} from '../molecules/features';
import { MoleculeContext } from '../molecules/properties';
import {
  depictSvg,
  loadRDKit,
  MoleculeParseError,
  parseSmilesToMol,
  type RDKitModule,
} from '../molecules/rdkit';
import { MAX_POOL_MOLECULES, PreferenceError } from './config';
import { DEFAULT_DRUGS, type NamedMolecule } from './data/drugs';

export { FINGERPRINT_PROJECTION, MOLECULE_DESCRIPTORS, MOLECULE_FEATURE_NAMES, projectFingerprint };

/** A molecule of a pool with its raw (not yet z-scored) features and its descriptors for display. */
export interface PoolMolecule {
  label: string;
  /** RDKit canonical SMILES. */
  smiles: string;
  raw: number[];
  properties: Record<string, number>;
}

export interface MoleculePool {
  molecules: PoolMolecule[];
  /** z-scored features, molecule by molecule. */
  features: number[][];
  normalization: { mean: number[]; sd: number[] };
}

/** Raw features and display properties of one molecule; throws MoleculeParseError for a bad SMILES. */
export function describeMolecule(rdkit: RDKitModule, label: string, smiles: string): PoolMolecule {
  const mol = parseSmilesToMol(rdkit, smiles);
  try {
    const context = new MoleculeContext(rdkit, mol);
    const properties: Record<string, number> = {};
    for (const { key } of MOLECULE_DESCRIPTORS) properties[key] = context.property(key);
    return { label, smiles: mol.get_smiles(), raw: rawMoleculeFeatures(context), properties };
  } finally {
    mol.delete();
  }
}

/** One parsed line of pasted text. */
export interface MoleculeLine {
  line: number;
  smiles: string;
  name?: string;
}

/**
 * Lines of pasted text as molecules: a SMILES, then optionally a name after whitespace, a comma or a tab;
 * empty lines, lines starting with # and a first line whose first field is "smiles" (a header) are
 * skipped.
 */
export function parseMoleculeText(text: string): MoleculeLine[] {
  const out: MoleculeLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const match = /^([^\s,]+)(?:[\s,]+(.*))?$/.exec(line);
    if (!match) return;
    if (out.length === 0 && match[1].toLowerCase() === 'smiles') return;
    out.push({ line: i + 1, smiles: match[1], name: match[2]?.trim() || undefined });
  });
  return out;
}

/** Lets other requests through while a long pool is computed on the server's one thread. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

async function describeAll(rdkit: RDKitModule, list: readonly { label: string; smiles: string }[]) {
  const molecules: PoolMolecule[] = [];
  for (const [i, { label, smiles }] of list.entries()) {
    if (i % 8 === 7) await yieldToEventLoop();
    molecules.push(describeMolecule(rdkit, label, smiles));
  }
  return molecules;
}

let defaultPool: Promise<PoolMolecule[]> | undefined;

/** The default list's molecules, computed once per process (≈ 2 s). */
function defaultMolecules(): Promise<PoolMolecule[]> {
  defaultPool ??= loadRDKit()
    .then((rdkit) =>
      describeAll(
        rdkit,
        DEFAULT_DRUGS.map((drug: NamedMolecule) => ({ label: drug.name, smiles: drug.smiles })),
      ),
    )
    .catch((error: unknown) => {
      defaultPool = undefined;
      throw error;
    });
  return defaultPool;
}

/**
 * The pool of a new campaign from pasted text (blank: the default drugs). Invalid SMILES are refused with
 * their line numbers and RDKit's reasons; repeated molecules (same canonical SMILES) are kept once.
 */
export async function buildMoleculePool(text: string | undefined, minSize: number): Promise<MoleculePool> {
  let molecules: PoolMolecule[];
  if (!text?.trim()) {
    molecules = await defaultMolecules();
  } else {
    const lines = parseMoleculeText(text);
    if (lines.length > MAX_POOL_MOLECULES) {
      throw new PreferenceError(
        'BAD_REQUEST',
        `${lines.length} molecules pasted; a campaign's pool holds at most ${MAX_POOL_MOLECULES}.`,
      );
    }
    const rdkit = await loadRDKit();
    const problems: string[] = [];
    molecules = [];
    const seen = new Set<string>();
    for (const [i, { line, smiles, name }] of lines.entries()) {
      if (i % 8 === 7) await yieldToEventLoop();
      try {
        const molecule = describeMolecule(rdkit, name ?? smiles, smiles);
        if (seen.has(molecule.smiles)) continue;
        seen.add(molecule.smiles);
        molecules.push(molecule);
      } catch (error) {
        if (!(error instanceof MoleculeParseError)) throw error;
        problems.push(`line ${line}: ${error.reason}`);
      }
    }
    if (problems.length) {
      const shown = problems.slice(0, 5).join('; ');
      const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
      throw new PreferenceError('BAD_REQUEST', `Invalid SMILES: ${shown}${more}.`);
    }
  }
  if (molecules.length < minSize) {
    throw new PreferenceError(
      'BAD_REQUEST',
      `The pool holds ${molecules.length} distinct molecule${molecules.length === 1 ? '' : 's'}; ` +
        `it needs at least ${minSize} (more than K).`,
    );
  }
  return { molecules, ...zScore(molecules.map((molecule) => molecule.raw)) };
}

/** Columns z-scored over the rows (population standard deviation; constant columns become 0). */
export function zScore(rows: number[][]): {
  features: number[][];
  normalization: { mean: number[]; sd: number[] };
} {
  const n = rows.length;
  const d = rows[0]?.length ?? 0;
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((sum, row) => sum + row[j], 0) / n);
  const sd = Array.from({ length: d }, (_, j) => {
    const variance = rows.reduce((sum, row) => sum + (row[j] - mean[j]) ** 2, 0) / n;
    const value = Math.sqrt(variance);
    return value > 1e-12 ? value : 1;
  });
  return {
    features: rows.map((row) => row.map((value, j) => (value - mean[j]) / sd[j])),
    normalization: { mean, sd },
  };
}

const depictions = new Map<string, string>();
const maxDepictions = 1024;

/** RDKit's 2-D depiction of a molecule as SVG text, cached per SMILES (a few ms each otherwise). */
/** The display descriptors of a molecule outside a pool (an assembled option). */
export async function moleculeProperties(smiles: string): Promise<Record<string, number>> {
  return describeMolecule(await loadRDKit(), smiles, smiles).properties;
}

export async function moleculeSvg(smiles: string): Promise<string> {
  const cached = depictions.get(smiles);
  if (cached) return cached;
  const svg = depictSvg(await loadRDKit(), smiles, { width: 240, height: 180 });
  if (depictions.size >= maxDepictions) depictions.delete(depictions.keys().next().value as string);
  depictions.set(smiles, svg);
  return svg;
}
