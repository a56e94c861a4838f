/**
 * Molecular properties under the names the platform uses (those of ../shared/peers/rdkit_oracle.py props),
 * computed lazily per molecule so that a reward needing only logP does not pay for QED's 128 substructure
 * searches.
 *
 * Definitions follow RDKit's Python API (release 2022.09, which produced the reference values): where
 * MinimalLib's own descriptor has since changed definition, the property is computed here the 2022 way
 * (hba: the Lipinski/Gobbi acceptor SMARTS of rdMolDescriptors.CalcNumHBA).
 */
import { qed } from './qed';
import type { MolecularDescriptors, MoleculeGraph, MorganOptions, RDKitModule, RDKitMol } from './rdkit';
import {
  DEFAULT_MORGAN,
  molecularDescriptors,
  moleculeGraph,
  morganFingerprint,
  sharedSmartsQuery,
} from './rdkit';
import { saScore } from './saScore';

/**
 * Hydrogen-bond acceptors, RDKit Lipinski.cpp / Lipinski.py HAcceptorSmarts v2 (after Gobbi & Poppinger,
 * Biotechnol. Bioeng. 61, 47 (1998)), one count per matched atom.
 */
const HBA_SMARTS =
  '[$([O,S;H1;v2]-[!$(*=[O,N,P,S])]),$([O,S;H0;v2]),$([O,S;-]),$([N;v3;!$(N-*=!@[O,N,P,S])]),$([nH0,o,s;+0])]';

/**
 * Rotatable bonds in RDKit's non-strict definition (NumRotatableBondsOptions.NonStrict, the default before
 * 2013 and the one RDKit's regression files use): single, acyclic bonds between non-terminal atoms, not
 * next to a triple bond. `rotb` is the strict definition, RDKit's default now.
 */
export const NON_STRICT_ROTATABLE_BOND_SMARTS = '[!$(*#*)&!D1]-&!@[!$(*#*)&!D1]';

/** The property names, with what each means; all are functions of the molecular graph alone. */
export const MOLECULAR_PROPERTIES = {
  qed: { label: 'QED', description: 'drug-likeness, Bickerton et al. 2012 (0–1, higher is more drug-like)' },
  sa: {
    label: 'SA score',
    description: 'synthetic accessibility, Ertl & Schuffenhauer 2009 (1 easy – 10 hard)',
  },
  logp: { label: 'Crippen logP', description: 'octanol/water partition coefficient, Wildman & Crippen 1999' },
  tpsa: { label: 'TPSA', description: 'topological polar surface area in Å², Ertl et al. 2000 (N, O)' },
  mw: { label: 'MW', description: 'average molecular weight in g/mol' },
  hba: { label: 'HBA', description: 'hydrogen-bond acceptors (RDKit Lipinski definition)' },
  hbd: { label: 'HBD', description: 'hydrogen-bond donors (RDKit Lipinski definition)' },
  rotb: { label: 'Rotatable bonds', description: 'rotatable bonds, RDKit strict definition' },
  heavy: { label: 'Heavy atoms', description: 'number of non-hydrogen atoms' },
  rings: {
    label: 'Rings',
    description: 'number of rings (RDKit symmetrised smallest set of smallest rings)',
  },
  aromatic_rings: { label: 'Aromatic rings', description: 'number of aromatic rings' },
} as const;

export type PropertyName = keyof typeof MOLECULAR_PROPERTIES;
export const PROPERTY_NAMES = Object.keys(MOLECULAR_PROPERTIES) as PropertyName[];

/** The properties of one valid molecule, keyed as rdkit_oracle.py writes them. */
export type MolecularProperties = { [name in Exclude<PropertyName, 'aromatic_rings'>]: number };

/**
 * One parsed molecule with its derived quantities computed on first request. Owns nothing: the caller
 * keeps and frees the molecule, and must not use the context after that.
 */
export class MoleculeContext {
  private cachedDescriptors?: MolecularDescriptors;
  private cachedGraph?: MoleculeGraph;
  private cachedQed?: number;
  private cachedSa?: number;
  private cachedHba?: number;
  private readonly fingerprints = new Map<string, Uint8Array>();

  constructor(
    readonly rdkit: RDKitModule,
    readonly mol: RDKitMol,
  ) {}

  get descriptors(): MolecularDescriptors {
    return (this.cachedDescriptors ??= molecularDescriptors(this.mol));
  }

  get graph(): MoleculeGraph {
    return (this.cachedGraph ??= moleculeGraph(this.mol));
  }

  fingerprint(options: MorganOptions = DEFAULT_MORGAN): Uint8Array {
    const key = `${options.radius}/${options.nBits}`;
    let fingerprint = this.fingerprints.get(key);
    if (!fingerprint) {
      fingerprint = morganFingerprint(this.mol, options);
      this.fingerprints.set(key, fingerprint);
    }
    return fingerprint;
  }

  property(name: PropertyName): number {
    const d = () => this.descriptors;
    switch (name) {
      case 'qed':
        return (this.cachedQed ??= qed(this.rdkit, this.mol, d(), this.graph));
      case 'sa':
        return (this.cachedSa ??= saScore(this.rdkit, this.mol, d(), this.graph));
      case 'logp':
        return d().CrippenClogP;
      case 'tpsa':
        return d().tpsa;
      case 'mw':
        return d().amw;
      case 'hba':
        return (this.cachedHba ??= sharedSmartsQuery(this.rdkit, HBA_SMARTS).countMatches(this.mol));
      case 'hbd':
        return d().NumHBD;
      case 'rotb':
        return d().NumRotatableBonds;
      case 'heavy':
        return d().NumHeavyAtoms;
      case 'rings':
        return d().NumRings;
      case 'aromatic_rings':
        return d().NumAromaticRings;
    }
  }

  /** All oracle properties of the molecule. */
  properties(): MolecularProperties {
    return {
      qed: this.property('qed'),
      sa: this.property('sa'),
      logp: this.property('logp'),
      tpsa: this.property('tpsa'),
      mw: this.property('mw'),
      hba: this.property('hba'),
      hbd: this.property('hbd'),
      rotb: this.property('rotb'),
      heavy: this.property('heavy'),
      rings: this.property('rings'),
    };
  }
}
