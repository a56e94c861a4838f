/**
 * The molecules domain of a preference campaign: pool mode (DESIGN.md §6) over a list of molecules, pasted
 * as SMILES at creation or the default list of well-known drugs (data/drugs.ts).
 *
 * Features φ of a molecule (issue 6 item 3, "normalised descriptors plus a projected fingerprint"):
 *   - ten RDKit descriptors (server/molecules): QED, SA score, Crippen logP, TPSA, MW, HBD, HBA, rotatable
 *     bonds, rings, aromatic rings;
 *   - the Morgan fingerprint (radius 2, 2048 bits) projected to 8 numbers by a fixed random ±1 matrix R
 *     (entries drawn from createRng(FINGERPRINT_PROJECTION.projectionSeed), row j then bit i), scaled by
 *     1/√(bits set): p_j = Σ_i R_ji b_i / √|b|, so that similar molecules get similar projections
 *     (E[p·p'] is their bits in common over √(|b||b'|), a cosine similarity) whatever their size;
 * then every coordinate is z-scored over the pool (mean 0, standard deviation 1; a constant coordinate
 * becomes 0), so that θ's coordinates are comparable: θ_j is the change in log-odds of being chosen per
 * standard deviation of feature j across the pool. The means and deviations are kept with the campaign,
 * so a learned θ applies to molecules outside the pool: φ = (raw − mean) / sd.
 */
import { createRng } from '../engines/random';
import { MoleculeContext, type PropertyName } from '../molecules/properties';
import {
  depictSvg,
  loadRDKit,
  MoleculeParseError,
  parseSmilesToMol,
  type RDKitModule,
} from '../molecules/rdkit';
import { MAX_POOL_MOLECULES, PreferenceError } from './config';
import { DEFAULT_DRUGS, type NamedMolecule } from './data/drugs';

/** The descriptors among the features, in order, with the names the dashboard shows. */
export const MOLECULE_DESCRIPTORS: readonly { key: PropertyName; name: string }[] = [
  { key: 'qed', name: 'QED' },
  { key: 'sa', name: 'SA score' },
  { key: 'logp', name: 'logP' },
  { key: 'tpsa', name: 'TPSA' },
  { key: 'mw', name: 'MW' },
  { key: 'hbd', name: 'HBD' },
  { key: 'hba', name: 'HBA' },
  { key: 'rotb', name: 'Rotatable bonds' },
  { key: 'rings', name: 'Rings' },
  { key: 'aromatic_rings', name: 'Aromatic rings' },
];

/** The fingerprint projection (header); fixed, so that features mean the same in every campaign. */
export const FINGERPRINT_PROJECTION = {
  radius: 2,
  nBits: 2048,
  dims: 8,
  projectionSeed: 20_250_601,
} as const;

export const MOLECULE_FEATURE_NAMES: readonly string[] = [
  ...MOLECULE_DESCRIPTORS.map((descriptor) => descriptor.name),
  ...Array.from({ length: FINGERPRINT_PROJECTION.dims }, (_, j) => `Fingerprint ${j + 1}`),
];

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

let projection: Int8Array | undefined;

/** R, dims × nBits signs (row j at j·nBits), drawn once from the projection seed. */
function projectionMatrix(): Int8Array {
  if (!projection) {
    const { dims, nBits, projectionSeed } = FINGERPRINT_PROJECTION;
    const rng = createRng(projectionSeed);
    projection = Int8Array.from({ length: dims * nBits }, () => (rng.uniform() < 0.5 ? -1 : 1));
  }
  return projection;
}

/** p = R b / √|b| for a packed bit vector (bit i is (bytes[i >> 3] >> (i & 7)) & 1). */
export function projectFingerprint(bits: Uint8Array): number[] {
  const { dims, nBits } = FINGERPRINT_PROJECTION;
  const r = projectionMatrix();
  const out = new Array<number>(dims).fill(0);
  let count = 0;
  for (let i = 0; i < nBits; i++) {
    if (((bits[i >> 3] >> (i & 7)) & 1) === 0) continue;
    count++;
    for (let j = 0; j < dims; j++) out[j] += r[j * nBits + i];
  }
  return count ? out.map((value) => value / Math.sqrt(count)) : out;
}

/** Raw features and display properties of one molecule; throws MoleculeParseError for a bad SMILES. */
export function describeMolecule(rdkit: RDKitModule, label: string, smiles: string): PoolMolecule {
  const mol = parseSmilesToMol(rdkit, smiles);
  try {
    const context = new MoleculeContext(rdkit, mol);
    const properties: Record<string, number> = {};
    for (const { key } of MOLECULE_DESCRIPTORS) properties[key] = context.property(key);
    const fingerprint = context.fingerprint({
      radius: FINGERPRINT_PROJECTION.radius,
      nBits: FINGERPRINT_PROJECTION.nBits,
    });
    return {
      label,
      smiles: mol.get_smiles(),
      raw: [...MOLECULE_DESCRIPTORS.map(({ key }) => properties[key]), ...projectFingerprint(fingerprint)],
      properties,
    };
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
export async function moleculeSvg(smiles: string): Promise<string> {
  const cached = depictions.get(smiles);
  if (cached) return cached;
  const svg = depictSvg(await loadRDKit(), smiles, { width: 240, height: 180 });
  if (depictions.size >= maxDepictions) depictions.delete(depictions.keys().next().value as string);
  depictions.set(smiles, svg);
  return svg;
}
