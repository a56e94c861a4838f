/**
 * Feature vectors of molecules for learned (preference) rewards, DESIGN.md §6 "normalised descriptors plus
 * a projected fingerprint":
 *   - ten RDKit descriptors: QED, SA score, Crippen logP, TPSA, MW, HBD, HBA, rotatable bonds, rings,
 *     aromatic rings;
 *   - the Morgan fingerprint (radius 2, 2048 bits) projected to 8 numbers by a fixed random ±1 matrix R
 *     (entries drawn from createRng(FINGERPRINT_PROJECTION.projectionSeed), row j then bit i), scaled by
 *     1/√(bits set): p_j = Σ_i R_ji b_i / √|b|, so that similar molecules get similar projections
 *     (E[p·p'] is their bits in common over √(|b||b'|), a cosine similarity) whatever their size.
 * These are raw features; a campaign z-scores them over its pool and keeps the means and deviations, so a
 * learned θ applies to any molecule: φ = (raw − mean) / sd, reward θᵀφ.
 */
import { createRng } from '../engines/random';
import type { MoleculeContext, PropertyName } from './properties';

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

/** The raw feature vector of one molecule (descriptors, then the projected fingerprint). */
export function rawMoleculeFeatures(context: MoleculeContext): number[] {
  const fingerprint = context.fingerprint({
    radius: FINGERPRINT_PROJECTION.radius,
    nBits: FINGERPRINT_PROJECTION.nBits,
  });
  return [
    ...MOLECULE_DESCRIPTORS.map(({ key }) => context.property(key)),
    ...projectFingerprint(fingerprint),
  ];
}
