/**
 * MMFF94 energies through OpenChemLib's ForceFieldMMFF94 (DESIGN.md §4: the reward is minus the MMFF94
 * energy). Plain MMFF94 (not MMFF94s / MMFF94s+) is the default: it reproduces the MMFF94 validation suite's
 * reference energies (test/conformers/mmff.test.ts: all 761 molecules within 0.01 kcal/mol) and it is the
 * variant RDKit's MMFFGetMoleculeProperties uses by default, so our energies and the RDKit peer's agree.
 * Energies are in kcal/mol.
 */
import { openChemLib, type OclMolecule } from './ocl';
import { coordinatesFromOcl, setOclCoordinates } from './structure';

export type MmffVariant = 'MMFF94' | 'MMFF94s' | 'MMFF94s+';

export interface MinimisationOptions {
  /** Most iterations (OpenChemLib's default is 4000). */
  maxIterations?: number;
  /** Gradient tolerance (OpenChemLib's default 1e-4). */
  gradientTolerance?: number;
  /** Energy tolerance (OpenChemLib's default 1e-6). */
  energyTolerance?: number;
}

export interface MinimisedConformer {
  readonly coordinates: Float64Array;
  readonly energy: number;
  /** OpenChemLib's return code: 0 when the minimiser converged. */
  readonly converged: boolean;
}

/**
 * MMFF94 for one molecule (all hydrogens explicit, in the atom order of `molecule`): single-point energies and
 * local minimisation of given coordinates. The molecule is used as scratch space for coordinates.
 */
export class MmffEvaluator {
  private readonly scratch: OclMolecule;

  constructor(
    molecule: OclMolecule,
    readonly variant: MmffVariant = 'MMFF94',
  ) {
    openChemLib();
    this.scratch = molecule.getCompactCopy();
    // Fail early (e.g. an element MMFF94 has no parameters for) rather than in the middle of an ensemble.
    this.forceField(coordinatesFromOcl(molecule));
  }

  private forceField(coordinates: Float64Array) {
    setOclCoordinates(this.scratch, coordinates);
    try {
      return new (openChemLib().ForceFieldMMFF94)(this.scratch, this.variant);
    } catch (error) {
      throw new Error(`MMFF94 cannot type this molecule: ${String(error)}`, { cause: error });
    }
  }

  /** Single-point energy (kcal/mol) of the coordinates. */
  energy(coordinates: Float64Array): number {
    return this.forceField(coordinates).getTotalEnergy();
  }

  /** Local minimisation from the coordinates (OpenChemLib's L-BFGS-type minimiser); returns new coordinates. */
  minimise(coordinates: Float64Array, options: MinimisationOptions = {}): MinimisedConformer {
    const forceField = this.forceField(coordinates);
    const code = forceField.minimise({
      maxIts: options.maxIterations ?? 4000,
      gradTol: options.gradientTolerance ?? 1e-4,
      funcTol: options.energyTolerance ?? 1e-6,
    });
    return {
      coordinates: coordinatesFromOcl(this.scratch),
      energy: forceField.getTotalEnergy(),
      converged: code === 0,
    };
  }
}

/** Single-point MMFF94 energy of an OpenChemLib molecule with explicit hydrogens and 3-D coordinates. */
export function mmffEnergy(molecule: OclMolecule, variant: MmffVariant = 'MMFF94'): number {
  openChemLib();
  return new (openChemLib().ForceFieldMMFF94)(molecule, variant).getTotalEnergy();
}
