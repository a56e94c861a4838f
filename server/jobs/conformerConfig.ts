/**
 * Config of the conformer job (DESIGN.md §4, issue 7 "UI"), validated by the API before anything is queued
 * and by the worker again. Free of chemistry and tensor code.
 */
import { z } from 'zod';

export const conformerConfigSchema = z.object({
  /** The molecule; hydrogens are added, stereo kept. Checked by RDKit in the worker. */
  smiles: z.string().trim().min(1, 'enter a SMILES').max(500, 'at most 500 characters of SMILES'),
  /** Distinct conformers wanted (fewer come back when the molecule has fewer distinct minima). */
  n: z.number().int().min(1).max(200).default(30),
  /** Heavy-atom RMSD (Å) under which two minimised conformers count as one. */
  rmsdThreshold: z.number().min(0).max(5).default(0.5),
  /**
   * 'mmff': MMFF94 energies. 'xtb': the MMFF94 ensemble re-scored by GFN2-xTB single points (the xtb
   * program; slower, more accurate), each conformer's xtb energy stored beside its MMFF94 one.
   */
  energy: z.enum(['mmff', 'xtb']).default('mmff'),
  /**
   * 'ensemble': embeddings + random torsions, minimised. 'flow': that ensemble as the base of a torsional
   * flow steered toward low energy, whose samples are minimised and added (slower; DESIGN.md §4).
   */
  method: z.enum(['ensemble', 'flow']).default('ensemble'),
  /** Flow only: an uploaded SD file of conformers of the same molecule, merged with the base prior. */
  priorDatasetId: z.uuid('priorDatasetId must be a dataset id').optional(),
});
export type ConformerConfig = z.infer<typeof conformerConfigSchema>;
