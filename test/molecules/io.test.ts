/**
 * Molecule files (server/molecules/io.ts): SMILES, CSV/TSV and SD files read per record with per-record
 * errors, streamed in small chunks, gzipped or not, within size and count limits; CSV and SDF written and
 * read back unchanged; a real SD file (RDKit's MMFF94 validation suite) read to the same molecules as its
 * SMILES list.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MoleculeRecord } from '../../server/molecules/io';
import {
  formatFromFileName,
  MoleculeFileError,
  readAllMolecules,
  readMolecules,
  writeMoleculeCsv,
  writeMoleculeSdf,
} from '../../server/molecules/io';
import type { RDKitModule } from '../../server/molecules/rdkit';
import { loadRDKit, withMolecule } from '../../server/molecules/rdkit';
import { sharedDataFile } from '../support/rdkitPeer';

let rdkit: RDKitModule;

beforeAll(async () => {
  rdkit = await loadRDKit();
});

/** The bytes as a stream of `size`-byte chunks (splitting lines and multi-byte characters). */
function chunked(bytes: Uint8Array, size: number): Readable {
  const chunks: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += size)
    chunks.push(bytes.subarray(offset, offset + size));
  return Readable.from(chunks);
}

const summary = (records: MoleculeRecord[]) =>
  records.map((record) => (record.valid ? record.canonical : `invalid: ${record.error}`));

describe('reading', () => {
  it('reads SMILES files: names, comments, a header, blank lines, CRLF, bad molecules', async () => {
    const text = 'smiles name\r\n# a comment\r\nOCC ethanol\r\n\r\nC1CC broken ring\r\nc1ccccc1\r\n';
    const records = await readAllMolecules(rdkit, text, { format: 'smiles' });
    expect(summary(records)).toEqual(['CCO', 'invalid: unclosed ring', 'c1ccccc1']);
    expect(records.map((record) => [record.index, record.name])).toEqual([
      [1, 'ethanol'],
      [2, 'broken ring'],
      [3, undefined],
    ]);
  });

  it('reads CSV and TSV: quoted fields, a BOM, the SMILES and name columns found by header, other columns kept', async () => {
    const csv =
      '\uFEFFid,SMILES,"note, with comma",pIC50\nmol-1,CCO,"said ""hi""",5.2\nmol-2,C1CC,,7\nmol-3,c1ccncc1,x\n';
    const records = await readAllMolecules(rdkit, csv, { format: 'csv' });
    expect(summary(records)).toEqual(['CCO', 'invalid: unclosed ring', 'c1ccncc1']);
    expect(records[0]).toMatchObject({
      name: 'mol-1',
      properties: { 'note, with comma': 'said "hi"', pIC50: '5.2' },
    });
    expect(records[2].properties).toEqual({ 'note, with comma': 'x' });
    const tsv = await readAllMolecules(rdkit, 'canonical_smiles\tvalue\nCC(=O)O\t1\n', { format: 'tsv' });
    expect(tsv[0]).toMatchObject({ canonical: 'CC(=O)O', properties: { value: '1' } });
    const chosen = await readAllMolecules(rdkit, 'a,b\nCCO,CCN\n', { format: 'csv', smilesColumn: 'b' });
    expect(chosen[0].canonical).toBe('CCN');
    await expect(readAllMolecules(rdkit, 'a,b\nCCO,CCN\n', { format: 'csv' })).rejects.toThrow(
      /no SMILES column/,
    );
  });

  it('reads SD files: titles, data items, and a broken record between good ones', async () => {
    const { sdf } = writeMoleculeSdf(rdkit, [
      { smiles: 'CCO', name: 'ethanol', properties: { mw: 46.07 } },
      { smiles: 'c1ccccc1O', name: 'phenol', properties: { note: 'two\nlines' } },
    ]);
    const broken = 'junk\n  RDKit\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\nnonsense\nM  END\n$$$$\n';
    const records = await readAllMolecules(rdkit, broken + sdf + 'no end marker\n$$$$\n', { format: 'sdf' });
    expect(summary(records).slice(1, 3)).toEqual(['CCO', 'Oc1ccccc1']);
    expect(records[0].valid).toBe(false);
    expect(records[3]).toMatchObject({ valid: false, error: 'no "M  END" line in the record' });
    expect(records[1]).toMatchObject({ name: 'ethanol', properties: { mw: '46.07' } });
    expect(records[2].properties).toEqual({ note: 'two\nlines' });
  });

  it('reads a real SD file (MMFF94 validation suite, 761 molecules) to the molecules of its SMILES list', async () => {
    const stream = fs.createReadStream(sharedDataFile('conformers/rdkit_MMFF94_dative.sdf'), {
      highWaterMark: 4096,
    });
    const records = await readAllMolecules(rdkit, stream, { format: 'sdf' });
    const listed = fs
      .readFileSync(sharedDataFile('conformers/rdkit_MMFF94_dative.smi'), 'utf8')
      .trim()
      .split('\n')
      .slice(1) // header "SMILES Name"
      .map((line) => line.trim().split(/\s+/));
    expect(records).toHaveLength(listed.length);
    // The SMILES list carries no stereochemistry; the SD file's 3-D coordinates do. Compare without it.
    const flat = (smiles: string) =>
      withMolecule(rdkit, smiles, (mol) => mol.get_smiles(JSON.stringify({ doIsomericSmiles: false })));
    let same = 0;
    records.forEach((record, index) => {
      const [smiles, name] = listed[index];
      expect(record.name).toBe(name);
      if (record.valid && flat(record.canonical!) === flat(smiles)) same++;
    });
    console.log(`MMFF94 suite: ${same}/${records.length} SD records give the molecule of the SMILES list`);
    expect(same / records.length).toBeGreaterThan(0.99);
  });

  it('streams: chunks splitting lines and UTF-8 characters, gzip, and equal results either way', async () => {
    const lines = ['CCO éthanol', 'c1ccccc1 benzène', 'CC(=O)O acide', 'N#N'].join('\n');
    const bytes = Buffer.from(lines, 'utf8');
    const whole = await readAllMolecules(rdkit, lines, { format: 'smiles' });
    const streamed = await readAllMolecules(rdkit, chunked(bytes, 3), { format: 'smiles' });
    const gzipped = await readAllMolecules(rdkit, chunked(zlib.gzipSync(bytes), 7), { format: 'smiles' });
    expect(streamed).toEqual(whole);
    expect(gzipped).toEqual(whole);
    expect(whole.map((record) => record.name)).toEqual(['éthanol', 'benzène', 'acide', undefined]);
    expect(formatFromFileName('library.SMI.gz')).toBe('smiles');
    expect(formatFromFileName('x.sdf')).toBe('sdf');
    expect(formatFromFileName('x.xlsx')).toBeUndefined();
  });

  it('enforces the limits: size (also after decompression), record count, record size, binary data', async () => {
    const big = 'C\n'.repeat(10_000);
    await expect(readAllMolecules(rdkit, big, { format: 'smiles', maxBytes: 1000 })).rejects.toThrow(
      MoleculeFileError,
    );
    // A small archive that expands past the limit (a "zip bomb") is stopped while decompressing.
    const bomb = zlib.gzipSync(Buffer.from('x\n'.repeat(25_000_000)));
    expect(bomb.length).toBeLessThan(100_000);
    await expect(
      readAllMolecules(rdkit, bomb, { format: 'sdf', maxBytes: 1_000_000, maxRecordBytes: 100_000_000 }),
    ).rejects.toThrow(/larger than 1000000 bytes once decompressed/);
    await expect(readAllMolecules(rdkit, big, { format: 'smiles', maxRecords: 100 })).rejects.toThrow(
      /more than 100/,
    );
    await expect(
      readAllMolecules(rdkit, 'C'.repeat(5000), { format: 'smiles', maxRecordBytes: 1000 }),
    ).rejects.toThrow(/longer than/);
    await expect(
      readAllMolecules(rdkit, Buffer.from([0x43, 0x00, 0x43]), { format: 'smiles' }),
    ).rejects.toThrow(/not text/);
    await expect(
      readAllMolecules(rdkit, Buffer.from([0x1f, 0x8b, 1, 2, 3]), { format: 'smiles' }),
    ).rejects.toThrow(MoleculeFileError);
    const sdfRecord = 'x\n'.repeat(2000) + 'M  END\n$$$$\n';
    await expect(readAllMolecules(rdkit, sdfRecord, { format: 'sdf', maxRecordBytes: 1000 })).rejects.toThrow(
      /larger than 1000 bytes/,
    );
    // Stopping early (e.g. a preview of the first rows) ends the read without waiting for the rest.
    let taken = 0;
    for await (const record of readMolecules(rdkit, big, { format: 'smiles' })) {
      expect(record.valid).toBe(true);
      if (++taken === 5) break;
    }
    expect(taken).toBe(5);
  });
});

describe('writing', () => {
  const rows = [
    {
      smiles: 'CCO',
      name: 'ethanol',
      properties: { qed: 0.407, note: 'a, "quoted" note', missing: undefined },
    },
    { smiles: 'c1ccccc1', properties: { qed: 0.443, note: '=1+2', flag: true } },
  ];

  it('writes CSV that reads back to the same molecules and values', async () => {
    const csv = writeMoleculeCsv(rows);
    expect(csv.split('\n')[0]).toBe('smiles,name,qed,note,missing,flag');
    const back = await readAllMolecules(rdkit, csv, { format: 'csv' });
    expect(back.map((record) => [record.canonical, record.name, record.properties])).toEqual([
      ['CCO', 'ethanol', { qed: '0.407', note: 'a, "quoted" note', missing: '', flag: '' }],
      ['c1ccccc1', undefined, { qed: '0.443', note: '=1+2', missing: '', flag: 'true' }],
    ]);
  });

  it('writes SD files with 2-D coordinates, skipping and reporting invalid rows', async () => {
    const { sdf, skipped } = writeMoleculeSdf(rdkit, [
      ...rows,
      { smiles: 'C1CC' },
      { smiles: 'CC', properties: { 'a<b>': '$$$$\nx' } },
    ]);
    expect(skipped).toEqual([{ row: 2, error: 'unclosed ring' }]);
    expect(sdf.match(/\$\$\$\$\n/g)).toHaveLength(3);
    const back = await readAllMolecules(rdkit, sdf, { format: 'sdf' });
    expect(back.map((record) => record.canonical)).toEqual(['CCO', 'c1ccccc1', 'CC']);
    expect(back[0].properties).toEqual({ qed: '0.407', note: 'a, "quoted" note', missing: '' });
    expect(back[2].properties).toEqual({ a_b_: 'x' });
    // 2-D coordinates: the atoms of ethanol are not all at the origin.
    const atomLines = sdf.split('\n').slice(4, 7);
    expect(atomLines.filter((line) => !/^\s+0\.0000\s+0\.0000/.test(line)).length).toBeGreaterThan(0);
  });
});
