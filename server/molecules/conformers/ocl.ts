/**
 * OpenChemLib, loaded once per process (DESIGN.md "Stack": OpenChemLib where RDKit MinimalLib lacks a
 * capability: 3-D conformers and MMFF94). Its static resources (torsion tables, force-field parameters) must be
 * registered before the first ConformerGenerator or ForceFieldMMFF94 is built (STACK.md).
 */
import * as OCL from 'openchemlib';

let registered = false;

export function openChemLib(): typeof OCL {
  if (!registered) {
    OCL.Resources.registerFromNodejs();
    registered = true;
  }
  return OCL;
}

export type OclMolecule = OCL.Molecule;
