/**
 * Molecule files in and out: SMILES lists (.smi), CSV/TSV with a SMILES column, and SD files (.sdf, V2000 or
 * V3000 molblocks with data items), each optionally gzipped.
 *
 * Reading is streaming and defensive: input arrives in chunks (a Node stream, a blob, a string); the
 * decompressed size, the record count and each record's size are capped; bytes that are not text stop the
 * read with a file-level MoleculeFileError; a record that does not parse becomes an invalid record with
 * RDKit's reason, and reading goes on. Nothing is held whole except the current record.
 */
import { pipeline, Readable } from 'node:stream';
import zlib from 'node:zlib';
import { parse as parseCsvStream } from 'csv-parse';
import { stringify } from 'csv-stringify/sync';
import type { RDKitModule } from './rdkit';
import {
  MAX_SMILES_LENGTH,
  MoleculeParseError,
  parseMolblockToMol,
  parseSmilesToMol,
  withMolecule,
} from './rdkit';

export type MoleculeFileFormat = 'smiles' | 'csv' | 'tsv' | 'sdf';

/** One record of a molecule file. */
export interface MoleculeRecord {
  /** 1-based record number (data line for SMILES/CSV, record for SDF). */
  index: number;
  /** The molecule's name or title, when the file gives one. */
  name?: string;
  /** The SMILES as written (SMILES/CSV), or RDKit's SMILES of the molblock as written (SDF). */
  input: string;
  valid: boolean;
  /** RDKit canonical SMILES (valid records). */
  canonical?: string;
  /** Why the record is invalid. */
  error?: string;
  /** The other columns (CSV) or data items (SDF), as text. */
  properties: Record<string, string>;
}

export interface ReadLimits {
  /** Largest input after decompression, in bytes (default 256 MiB). */
  maxBytes: number;
  /** Most records read (default 1,000,000). */
  maxRecords: number;
  /** Largest single record (an SDF record, a CSV row or a line), in bytes (default 1 MiB). */
  maxRecordBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  maxBytes: 256 * 1024 * 1024,
  maxRecords: 1_000_000,
  maxRecordBytes: 1024 * 1024,
};

export interface ReadOptions extends Partial<ReadLimits> {
  format: MoleculeFileFormat;
  /** CSV/TSV: the SMILES column (default: the first header named like "smiles", case-insensitive). */
  smilesColumn?: string;
  /** CSV/TSV: the name column (default: one called name, id, title or compound id, if present). */
  nameColumn?: string;
}

/** A problem with the file as a whole (too large, not text, no SMILES column): reading stops. */
export class MoleculeFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoleculeFileError';
  }
}

/** The format a file name suggests (".smi", ".csv", ".tsv", ".sdf", ".mol", each optionally ".gz"). */
export function formatFromFileName(fileName: string): MoleculeFileFormat | undefined {
  const name = fileName.toLowerCase().replace(/\.gz$/, '');
  if (/\.(smi|smiles|txt)$/.test(name)) return 'smiles';
  if (name.endsWith('.csv')) return 'csv';
  if (/\.(tsv|tab)$/.test(name)) return 'tsv';
  if (/\.(sdf|sd|mol)$/.test(name)) return 'sdf';
  return undefined;
}

type Chunks = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/**
 * Decodes chunks to text: gunzips when the data starts with the gzip magic number, enforces the size limit
 * on the decompressed bytes (so a small archive cannot expand without bound), and rejects binary data.
 */
async function* decodedText(source: Chunks, maxBytes: number): AsyncGenerator<string> {
  const chunks = (async function* () {
    yield* source;
  })();
  const first = await chunks.next();
  if (first.done) return;
  const head = first.value;
  const all = (async function* () {
    yield head;
    yield* chunks;
  })();
  const gzipped = typeof head !== 'string' && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  let bytes: AsyncIterable<string | Uint8Array> = all;
  if (gzipped) {
    const gunzip = zlib.createGunzip();
    // pipeline destroys both streams on any error, so a bad archive or a failing source ends the iteration.
    pipeline(Readable.from(all), gunzip, () => undefined);
    bytes = gunzip;
  }
  const decoder = new TextDecoder('utf-8');
  let total = 0;
  const checked = (text: string) => {
    if (text.includes('\u0000')) throw new MoleculeFileError('the file is not text (it contains NUL bytes)');
    return text;
  };
  try {
    for await (const chunk of bytes) {
      total += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (total > maxBytes) {
        throw new MoleculeFileError(
          `the file is larger than ${maxBytes} bytes${gzipped ? ' once decompressed' : ''}`,
        );
      }
      yield checked(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    }
  } catch (error) {
    if (error instanceof MoleculeFileError) throw error;
    throw new MoleculeFileError(
      `cannot read the file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const rest = decoder.decode();
  if (rest) yield checked(rest);
}

/** Splits text chunks into lines (without their \n or \r\n), each at most `maxLineBytes`. */
async function* textLines(text: AsyncIterable<string>, maxLineBytes: number): AsyncGenerator<string> {
  let carry = '';
  for await (const chunk of text) {
    carry += chunk;
    let start = 0;
    for (let end = carry.indexOf('\n'); end >= 0; end = carry.indexOf('\n', start)) {
      yield carry.slice(start, end).replace(/\r$/, '');
      start = end + 1;
    }
    carry = carry.slice(start);
    if (carry.length > maxLineBytes)
      throw new MoleculeFileError(`a line is longer than ${maxLineBytes} bytes`);
  }
  if (carry) yield carry.replace(/\r$/, '');
}

function smilesRecord(
  rdkit: RDKitModule,
  index: number,
  smiles: string,
  name: string | undefined,
  properties: Record<string, string>,
): MoleculeRecord {
  try {
    const canonical = withMolecule(rdkit, smiles, (mol) => mol.get_smiles());
    return { index, name, input: smiles, valid: true, canonical, properties };
  } catch (error) {
    if (!(error instanceof MoleculeParseError)) throw error;
    return { index, name, input: smiles, valid: false, error: error.reason, properties };
  }
}

/** SMILES file: one molecule per line, the SMILES first, then optionally whitespace and a name. */
async function* readSmilesLines(rdkit: RDKitModule, lines: AsyncIterable<string>, limits: ReadLimits) {
  let index = 0;
  let first = true;
  for await (const line of lines) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const [smiles, ...rest] = trimmed.split(/\s+/);
    // A header line ("smiles name") is not a molecule.
    if (first && /^smiles$/i.test(smiles)) {
      first = false;
      continue;
    }
    first = false;
    if (++index > limits.maxRecords) throw new MoleculeFileError(`more than ${limits.maxRecords} molecules`);
    const name = rest.length > 0 ? rest.join(' ') : undefined;
    yield smilesRecord(rdkit, index, smiles, name, {});
  }
}

const SMILES_HEADER = /^(smiles|canonical[_ ]?smiles|isomeric[_ ]?smiles|smi)$/i;
const NAME_HEADER = /^(name|id|title|compound[_ ]?id|molecule[_ ]?name|mol[_ ]?id)$/i;

/** CSV or TSV with a header row; quoted fields, BOM and ragged rows are handled by csv-parse. */
async function* readCsvRecords(
  rdkit: RDKitModule,
  text: AsyncIterable<string>,
  options: ReadOptions,
  limits: ReadLimits,
): AsyncGenerator<MoleculeRecord> {
  const parser = parseCsvStream({
    delimiter: options.format === 'tsv' ? '\t' : ',',
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    trim: true,
    max_record_size: limits.maxRecordBytes,
  });
  // pipeline forwards a failing source (size limit, bad bytes) to the parser, whose iteration then throws.
  pipeline(Readable.from(text), parser, () => undefined);
  let header: string[] | undefined;
  let smilesIndex = -1;
  let nameIndex = -1;
  let index = 0;
  try {
    for await (const row of parser as AsyncIterable<string[]>) {
      if (!header) {
        header = row;
        smilesIndex = options.smilesColumn
          ? header.indexOf(options.smilesColumn)
          : header.findIndex((column) => SMILES_HEADER.test(column));
        if (smilesIndex < 0 && !options.smilesColumn)
          smilesIndex = header.findIndex((c) => /smiles/i.test(c));
        if (smilesIndex < 0) {
          throw new MoleculeFileError(
            options.smilesColumn
              ? `no column "${options.smilesColumn}" (columns: ${header.join(', ')})`
              : `no SMILES column (columns: ${header.join(', ')}); name it "smiles" or choose one`,
          );
        }
        nameIndex = options.nameColumn
          ? header.indexOf(options.nameColumn)
          : header.findIndex((column) => NAME_HEADER.test(column));
        continue;
      }
      if (++index > limits.maxRecords)
        throw new MoleculeFileError(`more than ${limits.maxRecords} molecules`);
      const properties: Record<string, string> = {};
      header.forEach((column, c) => {
        if (c !== smilesIndex && c !== nameIndex && row[c] !== undefined) properties[column] = row[c];
      });
      const smiles = row[smilesIndex] ?? '';
      const name = nameIndex >= 0 && row[nameIndex] ? row[nameIndex] : undefined;
      yield smilesRecord(rdkit, index, smiles, name, properties);
    }
  } catch (error) {
    if (error instanceof MoleculeFileError) throw error;
    throw new MoleculeFileError(`CSV: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    parser.destroy();
  }
}

/** SD file: records end with "$$$$"; the molblock ends with "M  END"; then "> <name>" data items. */
async function* readSdfRecords(rdkit: RDKitModule, lines: AsyncIterable<string>, limits: ReadLimits) {
  let block: string[] = [];
  let blockBytes = 0;
  let index = 0;
  const finish = (): MoleculeRecord | undefined => {
    const record = block;
    block = [];
    blockBytes = 0;
    if (record.every((line) => line.trim() === '')) return undefined;
    if (++index > limits.maxRecords) throw new MoleculeFileError(`more than ${limits.maxRecords} molecules`);
    return sdfRecord(rdkit, index, record);
  };
  for await (const line of lines) {
    if (line.startsWith('$$$$')) {
      const record = finish();
      if (record) yield record;
      continue;
    }
    blockBytes += line.length + 1;
    if (blockBytes > limits.maxRecordBytes) {
      throw new MoleculeFileError(`SD record ${index + 1} is larger than ${limits.maxRecordBytes} bytes`);
    }
    block.push(line);
  }
  const last = finish();
  if (last) yield last;
}

function sdfRecord(rdkit: RDKitModule, index: number, lines: string[]): MoleculeRecord {
  const end = lines.findIndex((line) => line.startsWith('M  END'));
  const name = lines[0]?.trim() || undefined;
  const properties = end >= 0 ? sdfDataItems(lines.slice(end + 1)) : {};
  if (end < 0)
    return { index, name, input: '', valid: false, error: 'no "M  END" line in the record', properties };
  try {
    const mol = parseMolblockToMol(rdkit, lines.slice(0, end + 1).join('\n'));
    try {
      const canonical = mol.get_smiles();
      return { index, name, input: canonical, valid: true, canonical, properties };
    } finally {
      mol.delete();
    }
  } catch (error) {
    if (!(error instanceof MoleculeParseError)) throw error;
    return { index, name, input: '', valid: false, error: error.reason, properties };
  }
}

/** Data items: a header line "> <name>" (or ">  <name> (n)"), value lines, a blank line. */
function sdfDataItems(lines: string[]): Record<string, string> {
  const items: Record<string, string> = {};
  let current: string | undefined;
  let value: string[] = [];
  const flush = () => {
    if (current !== undefined) items[current] = value.join('\n');
    current = undefined;
    value = [];
  };
  for (const line of lines) {
    const header = /^>.*<([^>]*)>/.exec(line);
    if (header) {
      flush();
      current = header[1];
    } else if (line.trim() === '') {
      flush();
    } else if (current !== undefined) {
      value.push(line);
    }
  }
  flush();
  return items;
}

function asChunks(source: string | Uint8Array | Chunks): Chunks {
  return typeof source === 'string' || source instanceof Uint8Array ? [source] : source;
}

/**
 * Reads molecules from a file's content (a string, bytes, or a stream of chunks such as a Node Readable),
 * one record at a time. Throws MoleculeFileError when the file as a whole is unusable.
 */
export async function* readMolecules(
  rdkit: RDKitModule,
  source: string | Uint8Array | Chunks,
  options: ReadOptions,
): AsyncGenerator<MoleculeRecord> {
  const limits: ReadLimits = {
    maxBytes: options.maxBytes ?? DEFAULT_READ_LIMITS.maxBytes,
    maxRecords: options.maxRecords ?? DEFAULT_READ_LIMITS.maxRecords,
    maxRecordBytes: options.maxRecordBytes ?? DEFAULT_READ_LIMITS.maxRecordBytes,
  };
  const text = decodedText(asChunks(source), limits.maxBytes);
  switch (options.format) {
    case 'smiles':
      yield* readSmilesLines(
        rdkit,
        textLines(text, Math.min(limits.maxRecordBytes, MAX_SMILES_LENGTH * 4)),
        limits,
      );
      return;
    case 'csv':
    case 'tsv':
      yield* readCsvRecords(rdkit, text, options, limits);
      return;
    case 'sdf':
      yield* readSdfRecords(rdkit, textLines(text, limits.maxRecordBytes), limits);
      return;
  }
}

/** All records of a file (for small files and tests; use `readMolecules` to stream large ones). */
export async function readAllMolecules(
  rdkit: RDKitModule,
  source: string | Uint8Array | Chunks,
  options: ReadOptions,
): Promise<MoleculeRecord[]> {
  const records: MoleculeRecord[] = [];
  for await (const record of readMolecules(rdkit, source, options)) records.push(record);
  return records;
}

/** A molecule to write: its SMILES, an optional name, and named values. */
export interface MoleculeRow {
  smiles: string;
  name?: string;
  properties?: Record<string, string | number | boolean | null | undefined>;
}

function propertyText(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return String(value);
}

/**
 * CSV with columns smiles, name (if any row has one), then the property columns (default: every property
 * name in order of first appearance). Quoting by csv-stringify.
 */
export function writeMoleculeCsv(rows: readonly MoleculeRow[], propertyColumns?: readonly string[]): string {
  const columns = propertyColumns ?? [...new Set(rows.flatMap((row) => Object.keys(row.properties ?? {})))];
  const withNames = rows.some((row) => row.name !== undefined);
  const header = ['smiles', ...(withNames ? ['name'] : []), ...columns];
  const body = rows.map((row) => [
    row.smiles,
    ...(withNames ? [row.name ?? ''] : []),
    ...columns.map((column) => propertyText(row.properties?.[column])),
  ]);
  return stringify([header, ...body]);
}

/** An SD-file data item name: no angle brackets or line breaks (they would end the header). */
function sdfItemName(name: string): string {
  return name.replace(/[<>\r\n]/g, '_');
}

/** An SD-file data value: a blank line ends an item and "$$$$" a record, so neither may appear inside. */
function sdfItemValue(value: string): string {
  return value
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '' && !line.startsWith('$$$$'))
    .join('\n');
}

/**
 * SD file of the rows: RDKit molblocks with 2-D coordinates, the name as title, properties as data items.
 * Rows whose SMILES RDKit cannot read are skipped and reported.
 */
export function writeMoleculeSdf(
  rdkit: RDKitModule,
  rows: readonly MoleculeRow[],
): { sdf: string; skipped: { row: number; error: string }[] } {
  const parts: string[] = [];
  const skipped: { row: number; error: string }[] = [];
  rows.forEach((row, index) => {
    let mol;
    try {
      mol = parseSmilesToMol(rdkit, row.smiles);
    } catch (error) {
      if (!(error instanceof MoleculeParseError)) throw error;
      skipped.push({ row: index, error: error.reason });
      return;
    }
    try {
      const lines = mol.get_molblock().split('\n');
      lines[0] = (row.name ?? '').replace(/[\r\n]/g, ' ').slice(0, 80);
      const block = lines.join('\n').replace(/\n*$/, '\n');
      const items = Object.entries(row.properties ?? {})
        .map(([key, value]) => `> <${sdfItemName(key)}>\n${sdfItemValue(propertyText(value))}\n\n`)
        .join('');
      parts.push(`${block}${items}$$$$\n`);
    } finally {
      mol.delete();
    }
  });
  return { sdf: parts.join(''), skipped };
}
