/**
 * Writes the chemistry data files the platform ships in server/molecules/data/ from their public sources:
 *
 *  1. sa-fragment-scores.bin.gz: the Ertl & Schuffenhauer SA-score fragment contributions, from RDKit's
 *     Contrib/SA_Score/fpscores.pkl.gz (BSD-3-Clause; Debian ships it in rdkit-data at
 *     /usr/share/RDKit/Contrib/SA_Score/). The pickle is read with a restricted reader that understands
 *     only lists, integers and floats (pickle protocol 0/1 text opcodes), so nothing in it can execute.
 *     A JSON copy of the same table (`[[score, id, id, …], …]`, optionally gzipped) is accepted too.
 *  2. moses_wehi_pains.csv and moses_mcf_filters.csv: the PAINS and medicinal-chemistry filter SMARTS of
 *     MOSES (molecularsets/moses, MIT), copied byte for byte after checking their SHA-256.
 *
 * Usage: npx tsx scripts/convert-molecule-data.ts [--fpscores FILE] [--filters DIR]
 *   --fpscores  default /usr/share/RDKit/Contrib/SA_Score/fpscores.pkl.gz
 *   --filters   folder holding the two MOSES CSVs, default ../shared/data/molecules
 *
 * Output format of sa-fragment-scores.bin.gz (gzip of, all little-endian):
 *   "SAFS"  u32 version (1)  u32 groupCount  u32 identifierCount
 *   f64[groupCount]          the distinct fragment scores, in the source's order
 *   varint[identifierCount]  the fragment identifiers in ascending order, as unsigned LEB128 deltas
 *   u16[identifierCount]     for each identifier, the index of its score
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..');
const outputDir = path.join(root, 'server', 'molecules', 'data');

/** SHA-256 of the MOSES filter files as recorded in ../shared/data/SOURCES.md. */
const FILTER_FILES: Record<string, string> = {
  'moses_wehi_pains.csv': 'd762e5420ec70f06d7e41d336cae6f67e2feb0eddf05c6171192a332726d296f',
  'moses_mcf_filters.csv': 'f4a2bfacb4cb8877295eb2a4b4e61ec9770a26388f1331e5dc9c193d22dd5f89',
};

type PickleValue = number | PickleValue[];

/**
 * Reads a pickle made only of lists, ints and floats (the opcodes Python writes for such data at protocols 0
 * and 1). Any other opcode (globals, reduce, objects) is refused rather than interpreted.
 */
function readListPickle(bytes: Buffer): PickleValue {
  const MARK = Symbol('mark');
  const stack: (PickleValue | typeof MARK)[] = [];
  const memo = new Map<number, PickleValue>();
  let position = 0;
  const readLine = () => {
    const end = bytes.indexOf(0x0a, position);
    if (end < 0) throw new Error('truncated pickle');
    const line = bytes.toString('latin1', position, end);
    position = end + 1;
    return line;
  };
  const popToMark = () => {
    const mark = stack.lastIndexOf(MARK);
    if (mark < 0) throw new Error('pickle list without a mark');
    const items = stack.splice(mark + 1) as PickleValue[];
    stack.pop();
    return items;
  };
  const top = () => {
    const value = stack[stack.length - 1];
    if (!Array.isArray(value)) throw new Error('pickle appends to something that is not a list');
    return value;
  };
  while (position < bytes.length) {
    const opcode = String.fromCharCode(bytes[position++]);
    switch (opcode) {
      case '(':
        stack.push(MARK);
        break;
      case 'l':
        stack.push(popToMark());
        break;
      case ']':
        stack.push([]);
        break;
      case 'I': {
        const text = readLine();
        const value = Number(text);
        if (!Number.isSafeInteger(value)) throw new Error(`bad pickle INT ${text}`);
        stack.push(value);
        break;
      }
      case 'L': {
        const text = readLine().replace(/L$/, '');
        const value = Number(text);
        if (!Number.isSafeInteger(value)) throw new Error(`bad pickle LONG ${text}`);
        stack.push(value);
        break;
      }
      case 'F': {
        const text = readLine();
        const value = Number(text);
        if (!Number.isFinite(value)) throw new Error(`bad pickle FLOAT ${text}`);
        stack.push(value);
        break;
      }
      case 'p':
        memo.set(Number(readLine()), stack[stack.length - 1] as PickleValue);
        break;
      case 'g': {
        const key = Number(readLine());
        if (!memo.has(key)) throw new Error(`pickle GET of unknown memo ${key}`);
        stack.push(memo.get(key)!);
        break;
      }
      case 'a': {
        const value = stack.pop() as PickleValue;
        top().push(value);
        break;
      }
      case 'e': {
        const items = popToMark();
        top().push(...items);
        break;
      }
      case '.': {
        if (stack.length !== 1 || stack[0] === MARK) throw new Error('pickle ends with an unbalanced stack');
        return stack[0];
      }
      default:
        throw new Error(`pickle opcode ${JSON.stringify(opcode)} at byte ${position - 1} is not allowed`);
    }
  }
  throw new Error('pickle without STOP');
}

/** The fragment table as [score, id, id, …] rows, from the pickle or from its JSON copy. */
function readFragmentRows(file: string): number[][] {
  let bytes = fs.readFileSync(file);
  if (file.endsWith('.gz')) bytes = zlib.gunzipSync(bytes);
  const table: unknown = file.includes('.json') ? JSON.parse(bytes.toString('utf8')) : readListPickle(bytes);
  if (!Array.isArray(table)) throw new Error(`${file}: the fragment table is not a list`);
  return table.map((row, index) => {
    if (!Array.isArray(row) || row.length < 2 || !row.every((value) => typeof value === 'number')) {
      throw new Error(`${file}: row ${index} is not [score, id, …]`);
    }
    return row;
  });
}

function encodeFragmentScores(rows: number[][]): Buffer {
  // sascorer.readFragmentScores builds a dict in file order, so a repeated identifier keeps its last score.
  const scoreIndex = new Map<number, number>();
  const scores: number[] = [];
  const groupOf = new Map<number, number>();
  for (const [score, ...identifiers] of rows) {
    if (!scoreIndex.has(score)) {
      scoreIndex.set(score, scores.length);
      scores.push(score);
    }
    for (const identifier of identifiers) {
      if (!Number.isInteger(identifier) || identifier < 0 || identifier > 0xffffffff) {
        throw new Error(`fragment identifier ${identifier} is not a 32-bit unsigned integer`);
      }
      groupOf.set(identifier, scoreIndex.get(score)!);
    }
  }
  if (scores.length > 0xffff) throw new Error('more than 65535 distinct scores');
  const identifiers = [...groupOf.keys()].sort((a, b) => a - b);
  const varints: number[] = [];
  let previous = 0;
  for (const identifier of identifiers) {
    let delta = identifier - previous;
    previous = identifier;
    do {
      const low = delta & 0x7f;
      delta = Math.floor(delta / 128);
      varints.push(delta > 0 ? low | 0x80 : low);
    } while (delta > 0);
  }
  const header = Buffer.alloc(16);
  header.write('SAFS', 0, 'latin1');
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(scores.length, 8);
  header.writeUInt32LE(identifiers.length, 12);
  const scoreBytes = Buffer.alloc(8 * scores.length);
  scores.forEach((score, index) => scoreBytes.writeDoubleLE(score, 8 * index));
  const groupBytes = Buffer.alloc(2 * identifiers.length);
  identifiers.forEach((identifier, index) => groupBytes.writeUInt16LE(groupOf.get(identifier)!, 2 * index));
  const raw = Buffer.concat([header, scoreBytes, Buffer.from(varints), groupBytes]);
  return zlib.gzipSync(raw, { level: 9 });
}

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(name);
  return index >= 0 && process.argv[index + 1] ? process.argv[index + 1] : fallback;
}

function main() {
  const fpscores = argument('--fpscores', '/usr/share/RDKit/Contrib/SA_Score/fpscores.pkl.gz');
  const filtersDir = argument('--filters', path.join(root, '..', 'shared', 'data', 'molecules'));
  fs.mkdirSync(outputDir, { recursive: true });

  const rows = readFragmentRows(fpscores);
  const encoded = encodeFragmentScores(rows);
  const target = path.join(outputDir, 'sa-fragment-scores.bin.gz');
  fs.writeFileSync(target, encoded);
  const identifierCount = rows.reduce((sum, row) => sum + row.length - 1, 0);
  console.log(
    `${path.relative(root, target)}: ${rows.length} scores, ${identifierCount} fragment identifiers, ` +
      `${encoded.length} bytes (source ${fpscores}, sha256 ${sha256(fs.readFileSync(fpscores))})`,
  );

  for (const [name, expected] of Object.entries(FILTER_FILES)) {
    const bytes = fs.readFileSync(path.join(filtersDir, name));
    const actual = sha256(bytes);
    if (actual !== expected) throw new Error(`${name}: sha256 ${actual}, expected ${expected}`);
    fs.writeFileSync(path.join(outputDir, name), bytes);
    console.log(`${path.relative(root, path.join(outputDir, name))}: copied, sha256 ${actual}`);
  }
}

main();
