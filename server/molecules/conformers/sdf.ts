/**
 * SD files (CTfile V2000, the format of BIOVIA's "CTfile Formats" specification): every record carries all
 * hydrogens explicitly, 3-D coordinates in Å and the conformer's energy as the data item `ENERGY` in kcal/mol
 * (DESIGN.md §4, issue 7 "CLI"), so RDKit, Open Babel or a viewer read the ensemble as written.
 */
import { openChemLib, type OclMolecule } from './ocl';
import { coordinatesFromOcl, topologyFromOcl, type MoleculeTopology } from './structure';

export interface SdfRecord {
  readonly name: string;
  readonly coordinates: Float64Array;
  /** Data items written after `M  END`, e.g. { ENERGY: '12.3456' }. */
  readonly properties?: Readonly<Record<string, string>>;
}

const ELEMENT_SYMBOLS = [
  '', 'H', 'He', 'Li', 'Be', 'B', 'C', 'N', 'O', 'F', 'Ne', 'Na', 'Mg', 'Al', 'Si', 'P', 'S', 'Cl', 'Ar', 'K',
  'Ca', 'Sc', 'Ti', 'V', 'Cr', 'Mn', 'Fe', 'Co', 'Ni', 'Cu', 'Zn', 'Ga', 'Ge', 'As', 'Se', 'Br', 'Kr', 'Rb',
  'Sr', 'Y', 'Zr', 'Nb', 'Mo', 'Tc', 'Ru', 'Rh', 'Pd', 'Ag', 'Cd', 'In', 'Sn', 'Sb', 'Te', 'I', 'Xe',
]; // prettier-ignore

function elementSymbol(atomicNumber: number): string {
  const symbol = ELEMENT_SYMBOLS[atomicNumber];
  if (!symbol) throw new Error(`SDF writer: no symbol for atomic number ${atomicNumber}`);
  return symbol;
}

const fixed = (value: number, width: number, decimals: number) => value.toFixed(decimals).padStart(width);
const integer = (value: number, width: number) => String(value).padStart(width);

/** Property lines `M  CHG` / `M  ISO`, at most 8 entries per line as the V2000 format allows. */
function propertyBlock(tag: string, entries: [number, number][]): string[] {
  const lines: string[] = [];
  for (let start = 0; start < entries.length; start += 8) {
    const chunk = entries.slice(start, start + 8);
    lines.push(
      `M  ${tag}${integer(chunk.length, 3)}` +
        chunk.map(([atom, value]) => ` ${integer(atom + 1, 3)} ${integer(value, 3)}`).join(''),
    );
  }
  return lines;
}

/** One V2000 molfile record followed by its data items and the `$$$$` delimiter. */
export function sdfRecord(topology: MoleculeTopology, record: SdfRecord): string {
  const { atomCount, bonds } = topology;
  if (record.coordinates.length !== 3 * atomCount)
    throw new Error(`SDF writer: ${record.coordinates.length / 3} coordinates for ${atomCount} atoms`);
  if (atomCount > 999 || bonds.length > 999)
    throw new Error('SDF writer: V2000 holds at most 999 atoms and bonds');
  const lines = [
    record.name.replace(/[\r\n]/g, ' ').slice(0, 80),
    '  Tributary      3D',
    '',
    `${integer(atomCount, 3)}${integer(bonds.length, 3)}  0  0  0  0  0  0  0  0999 V2000`,
  ];
  for (let atom = 0; atom < atomCount; atom++) {
    const [x, y, z] = [0, 1, 2].map((k) => record.coordinates[3 * atom + k]);
    lines.push(
      `${fixed(x, 10, 4)}${fixed(y, 10, 4)}${fixed(z, 10, 4)} ${elementSymbol(topology.atomicNumbers[atom]).padEnd(3)} 0  0  0  0  0  0  0  0  0  0  0  0`,
    );
  }
  // Kekulé orders: readers perceive aromaticity themselves (bond type 4 is for queries only).
  for (const bond of bonds)
    lines.push(`${integer(bond.from + 1, 3)}${integer(bond.to + 1, 3)}${integer(bond.order, 3)}  0`);
  const charged: [number, number][] = [];
  const isotopic: [number, number][] = [];
  for (let atom = 0; atom < atomCount; atom++) {
    if (topology.charges[atom] !== 0) charged.push([atom, topology.charges[atom]]);
    if (topology.isotopes[atom] !== 0) isotopic.push([atom, topology.isotopes[atom]]);
  }
  lines.push(...propertyBlock('CHG', charged), ...propertyBlock('ISO', isotopic), 'M  END');
  for (const [key, value] of Object.entries(record.properties ?? {})) lines.push(`>  <${key}>`, value, '');
  lines.push('$$$$');
  return lines.join('\n') + '\n';
}

/** A whole SD file: one record per conformer. */
export function writeSdf(topology: MoleculeTopology, records: readonly SdfRecord[]): string {
  return records.map((record) => sdfRecord(topology, record)).join('');
}

/**
 * The same conformers as XYZ (one block per conformer: atom count, a comment line with the name and any
 * properties as key=value, then "symbol x y z" per atom), for viewers and quantum-chemistry programs.
 */
export function writeXyz(topology: MoleculeTopology, records: readonly SdfRecord[]): string {
  return records
    .map((record) => {
      const comment = [record.name, ...Object.entries(record.properties ?? {}).map(([k, v]) => `${k}=${v}`)]
        .join(' ')
        .replace(/[\r\n]/g, ' ');
      const atoms = Array.from({ length: topology.atomCount }, (_, atom) =>
        [
          elementSymbol(topology.atomicNumbers[atom]),
          ...[0, 1, 2].map((k) => record.coordinates[3 * atom + k].toFixed(6)),
        ].join(' '),
      );
      return [String(topology.atomCount), comment, ...atoms].join('\n') + '\n';
    })
    .join('');
}

export interface ParsedSdfMolecule {
  readonly name: string;
  readonly molecule: OclMolecule;
  readonly topology: MoleculeTopology;
  readonly coordinates: Float64Array;
  readonly properties: Record<string, string>;
}

/**
 * Reads an SD file through OpenChemLib's molfile parser (hydrogens kept as written). Atoms come in
 * OpenChemLib's order, which moves hydrogens after all heavy atoms (the heavy atoms keep the file's order).
 * OpenChemLib stores (x, −y, −z) of the file, a rotation by 180° about x: RMSD and energies do not change, and
 * chirality is kept.
 */
export function readSdf(text: string): ParsedSdfMolecule[] {
  const OCL = openChemLib();
  const molecules: ParsedSdfMolecule[] = [];
  for (const block of text.split(/^\$\$\$\$\r?$/m)) {
    if (!block.trim()) continue;
    const record = block.replace(/^\r?\n/, '');
    const [molfile, ...dataParts] = record.split(/^M {2}END\r?$/m);
    const properties: Record<string, string> = {};
    const data = dataParts.join('');
    for (const match of data.matchAll(/^>.*<([^>]+)>.*\r?\n([\s\S]*?)(?:\r?\n\r?\n|\r?\n?$)/gm))
      properties[match[1]] = match[2].trim();
    const molecule = OCL.Molecule.fromMolfile(molfile + 'M  END\n');
    molecules.push({
      name: record.split(/\r?\n/)[0].trim(),
      molecule,
      topology: topologyFromOcl(molecule),
      coordinates: coordinatesFromOcl(molecule),
      properties,
    });
  }
  return molecules;
}
