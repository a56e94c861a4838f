/**
 * 10x-style screens (DESIGN.md §5 "Input"): a MatrixMarket count matrix (genes × cells or cells × genes,
 * gzip or plain, streamed line by line), a gene list, and per cell either labels (a CSV with one row per
 * cell) or a guide-count matrix with a guide → target table, from which each cell is assigned its guides
 * by a UMI threshold. Also the plain-text pieces on their own: name lists and CSV tables.
 *
 * Every problem is reported as a ScreenInputError naming the file and, where it helps, the line.
 */
import { csrFromCoordinates } from './sparse';
import { forEachLine, parseFiniteNumber, readRecords } from './textInput';
import {
  ScreenInputError,
  describeSource,
  makeUnique,
  resolveLimits,
  type CsrMatrix,
  type InputSource,
  type ObsColumn,
  type ReaderLimits,
  type ScreenData,
} from './types';

export interface MatrixMarketHeader {
  rows: number;
  cols: number;
  entries: number;
  field: 'integer' | 'real' | 'pattern';
}

/** Which axis of the file holds cells: 'rows' (cells × genes) or 'columns' (genes × cells). */
export type CellAxis = 'rows' | 'columns';

export interface ReadMatrixMarketOptions {
  /** The cell axis, or a function deciding it from the header (e.g. by matching a gene list's length). */
  cellAxis: CellAxis | ((header: MatrixMarketHeader) => CellAxis);
  limits?: Partial<ReaderLimits>;
  sourceName?: string;
}

/**
 * Reads a MatrixMarket `coordinate` matrix (integer, real or pattern; general) into a cells × genes CSR.
 * Duplicate coordinates are summed (scipy's convention).
 */
export async function readMatrixMarket(
  source: InputSource,
  options: ReadMatrixMarketOptions,
): Promise<{ matrix: CsrMatrix; header: MatrixMarketHeader }> {
  const label = options.sourceName ?? describeSource(source, 'uploaded MatrixMarket matrix');
  const limits = resolveLimits(options.limits);
  const fail: (problem: string) => never = (problem) => {
    throw new ScreenInputError(label, problem);
  };

  let lineNumber = 0;
  let field: MatrixMarketHeader['field'] | null = null;
  let header: MatrixMarketHeader | null = null;
  let cellsOnRows = false;
  let rowOf = new Int32Array(0);
  let colOf = new Int32Array(0);
  let valueOf = new Float32Array(0);
  let count = 0;
  const scanned = new Float64Array(3);

  await forEachLine(source, label, limits, (line) => {
    lineNumber++;
    if (field === null) {
      field = parseBanner(line, fail);
      return;
    }
    if (header !== null && count < header.entries) {
      // Fast path for well-formed entry lines; anything unusual falls through to the careful parser below,
      // which either accepts it or says what is wrong.
      const tokenCount = scanEntry(line, scanned);
      const [row, col, value] = scanned;
      if (
        tokenCount === (field === 'pattern' ? 2 : 3) &&
        row >= 1 &&
        row <= header.rows &&
        col >= 1 &&
        col <= header.cols &&
        (field !== 'integer' || Number.isInteger(value))
      ) {
        rowOf[count] = cellsOnRows ? row - 1 : col - 1;
        colOf[count] = cellsOnRows ? col - 1 : row - 1;
        valueOf[count] = field === 'pattern' ? 1 : value;
        count++;
        return;
      }
    }
    if (line.startsWith('%')) return;
    const trimmed = line.trim();
    if (trimmed === '') return;
    const tokens = trimmed.split(/\s+/);
    if (header === null) {
      header = parseSizeLine(tokens, field, lineNumber, fail);
      const axis = typeof options.cellAxis === 'function' ? options.cellAxis(header) : options.cellAxis;
      cellsOnRows = axis === 'rows';
      const cells = cellsOnRows ? header.rows : header.cols;
      const genes = cellsOnRows ? header.cols : header.rows;
      if (cells > limits.maxCells) fail(`${cells} cells exceed the limit of ${limits.maxCells}`);
      if (genes > limits.maxGenes) fail(`${genes} genes exceed the limit of ${limits.maxGenes}`);
      if (header.entries > limits.maxStoredValues) {
        fail(`${header.entries} stored entries exceed the limit of ${limits.maxStoredValues}`);
      }
      rowOf = new Int32Array(header.entries);
      colOf = new Int32Array(header.entries);
      valueOf = new Float32Array(header.entries);
      return;
    }
    const { rows, cols, entries } = header;
    const expectedTokens = field === 'pattern' ? 2 : 3;
    if (tokens.length !== expectedTokens) {
      fail(
        `line ${lineNumber}: expected ${expectedTokens} values ("row column${field === 'pattern' ? '' : ' value'}"), found ${tokens.length}`,
      );
    }
    if (count >= entries) fail(`line ${lineNumber}: more entries than the ${entries} the size line declares`);
    const row = parseCount(tokens[0]);
    const col = parseCount(tokens[1]);
    if (row === null || row < 1 || row > rows) {
      fail(`line ${lineNumber}: row index "${tokens[0]}" is not in 1…${rows}`);
    }
    if (col === null || col < 1 || col > cols) {
      fail(`line ${lineNumber}: column index "${tokens[1]}" is not in 1…${cols}`);
    }
    let value = 1;
    if (field !== 'pattern') {
      const parsed = parseFiniteNumber(tokens[2]);
      if (parsed === null) fail(`line ${lineNumber}: value "${tokens[2]}" is not a number`);
      if (field === 'integer' && !Number.isInteger(parsed)) {
        fail(
          `line ${lineNumber}: value "${tokens[2]}" is not an integer, as the header's "integer" field requires`,
        );
      }
      value = parsed;
    }
    rowOf[count] = cellsOnRows ? row - 1 : col - 1;
    colOf[count] = cellsOnRows ? col - 1 : row - 1;
    valueOf[count] = value;
    count++;
  });
  // The callback assigned these; TypeScript's flow analysis does not follow assignments in callbacks.
  const banner = field as MatrixMarketHeader['field'] | null;
  const size = header as MatrixMarketHeader | null;
  if (banner === null) return fail('the file is empty');
  if (size === null) return fail('no size line: the file ends after its header (truncated?)');
  if (count < size.entries) fail(`truncated: ${count} of the ${size.entries} entries the size line declares`);
  const cells = cellsOnRows ? size.rows : size.cols;
  const genes = cellsOnRows ? size.cols : size.rows;
  return { matrix: csrFromCoordinates(cells, genes, rowOf, colOf, valueOf, count), header: size };
}

const SPACE = 32;
const TAB = 9;
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/**
 * Scans "row column [value]" (blank- or tab-separated, two positive integers and an optional finite
 * number) into `out` without allocating tokens. Returns the token count (2 or 3), or 0 when the line is
 * anything else.
 */
function scanEntry(line: string, out: Float64Array): number {
  const length = line.length;
  let i = 0;
  for (let token = 0; token < 2; token++) {
    while (i < length && (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB)) i++;
    const start = i;
    let value = 0;
    while (i < length) {
      const code = line.charCodeAt(i);
      if (code < DIGIT_0 || code > DIGIT_9) break;
      value = value * 10 + (code - DIGIT_0);
      i++;
    }
    if (i === start || i - start > 10) return 0;
    if (i < length && line.charCodeAt(i) !== SPACE && line.charCodeAt(i) !== TAB) return 0;
    out[token] = value;
  }
  while (i < length && (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB)) i++;
  if (i === length) return 2;
  const start = i;
  while (i < length && line.charCodeAt(i) !== SPACE && line.charCodeAt(i) !== TAB) i++;
  const value = Number(line.slice(start, i));
  if (!Number.isFinite(value)) return 0;
  while (i < length && (line.charCodeAt(i) === SPACE || line.charCodeAt(i) === TAB)) i++;
  if (i !== length) return 0;
  out[2] = value;
  return 3;
}

function parseSizeLine(
  tokens: string[],
  field: MatrixMarketHeader['field'],
  lineNumber: number,
  fail: (problem: string) => never,
): MatrixMarketHeader {
  const [rows, cols, entries] = tokens.map((token) => parseCount(token));
  if (tokens.length !== 3 || rows === null || cols === null || entries === null) {
    return fail(
      `line ${lineNumber}: expected the size line "rows columns entries" (three non-negative integers)`,
    );
  }
  return { rows, cols, entries, field };
}

function parseBanner(line: string, fail: (problem: string) => never): MatrixMarketHeader['field'] {
  const tokens = line.trim().toLowerCase().split(/\s+/);
  if (tokens[0] !== '%%matrixmarket')
    fail('not a MatrixMarket file (the first line must start with %%MatrixMarket)');
  if (tokens[1] !== 'matrix') fail(`unsupported MatrixMarket object "${tokens[1]}" (expected matrix)`);
  if (tokens[2] !== 'coordinate') {
    fail(`unsupported MatrixMarket format "${tokens[2]}": only the sparse "coordinate" format is read`);
  }
  const field = tokens[3];
  if (field !== 'integer' && field !== 'real' && field !== 'pattern') {
    fail(`unsupported MatrixMarket field "${field}" (integer, real or pattern)`);
  }
  if (tokens[4] !== 'general') fail(`unsupported MatrixMarket symmetry "${tokens[4]}" (only general)`);
  return field;
}

function parseCount(token: string): number | null {
  if (!/^\d+$/.test(token)) return null;
  const value = Number(token);
  return value <= 0x7fffffff ? value : null;
}

// ---------------------------------------------------------------------------------------------------
// Name lists and CSV tables

/** All records of a CSV / TSV / one-name-per-line file (gzip allowed), fields trimmed. */
export async function readTextTable(
  source: InputSource,
  options: { limits?: Partial<ReaderLimits>; sourceName?: string } = {},
): Promise<string[][]> {
  const label = options.sourceName ?? describeSource(source, 'uploaded table');
  const limits = resolveLimits(options.limits);
  const rows: string[][] = [];
  for await (const record of readRecords(source, label, limits, { trim: true })) {
    rows.push(record);
    if (rows.length > limits.maxCells + 1) {
      throw new ScreenInputError(label, `more than ${limits.maxCells} rows`);
    }
  }
  return rows;
}

/** Header names that mark a gene-symbol column, in order of preference. */
const SYMBOL_COLUMNS = ['gene_name', 'gene_symbol', 'gene_symbols', 'symbol', 'gene', 'name', 'feature_name'];

export interface GeneListOptions {
  /** Column holding the names: a 0-based index or a header name. */
  column?: number | string;
  /**
   * Whether the first line is a header. 'auto' (default): yes when the list has one line more than the
   * matrix has genes, or when `column` is a name.
   */
  header?: boolean | 'auto';
}

/**
 * Picks the names out of a list's records. Without a header and with several columns the second is
 * taken (10x features.tsv: id, symbol, type); with a header, a symbol-like column name, else the first.
 */
export function namesFromTable(
  records: string[][],
  expectedCount: number | null,
  options: GeneListOptions,
  label: string,
): { names: string[]; headerSkipped: boolean } {
  const header =
    options.header === 'auto' || options.header === undefined
      ? typeof options.column === 'string' || (expectedCount !== null && records.length === expectedCount + 1)
      : options.header;
  const body = header ? records.slice(1) : records;
  let column: number;
  if (typeof options.column === 'number') column = options.column;
  else if (typeof options.column === 'string') {
    column = records[0]?.indexOf(options.column) ?? -1;
    if (column < 0) {
      throw new ScreenInputError(
        label,
        `no column '${options.column}' (header: ${records[0]?.join(', ') ?? 'none'})`,
      );
    }
  } else if (header) {
    const lower = records[0].map((name) => name.toLowerCase());
    const named = SYMBOL_COLUMNS.map((name) => lower.indexOf(name)).find((index) => index >= 0);
    column = named ?? 0;
  } else {
    column = (body[0]?.length ?? 1) >= 2 ? 1 : 0;
  }
  const names = body.map((record, i) => {
    const name = record[column];
    if (name === undefined || name === '') {
      throw new ScreenInputError(
        label,
        `line ${i + 1 + (header ? 1 : 0)} has no value in column ${column + 1}`,
      );
    }
    return name;
  });
  if (expectedCount !== null && names.length !== expectedCount) {
    throw new ScreenInputError(label, `${names.length} names for a matrix with ${expectedCount}`);
  }
  return { names, headerSkipped: header };
}

/**
 * A CSV with a header row as columns: a column whose every non-empty value is a number becomes number[]
 * (empty → NaN), any other column string[].
 */
export function columnsFromTable(records: string[][], label: string): Record<string, ObsColumn> {
  if (records.length === 0)
    throw new ScreenInputError(label, 'the table is empty (a header row is required)');
  const [header, ...body] = records;
  const seen = new Set<string>();
  header.forEach((name, i) => {
    if (seen.has(name)) throw new ScreenInputError(label, `column '${name}' appears twice in the header`);
    seen.add(name);
    if (name === '' && i > 0) throw new ScreenInputError(label, `column ${i + 1} has an empty header`);
  });
  body.forEach((record, i) => {
    if (record.length !== header.length) {
      throw new ScreenInputError(
        label,
        `line ${i + 2} has ${record.length} fields, the header ${header.length}`,
      );
    }
  });
  const columns: Record<string, ObsColumn> = {};
  header.forEach((name, j) => {
    const texts = body.map((record) => record[j]);
    const numeric =
      texts.every((text) => text === '' || parseFiniteNumber(text) !== null) && texts.some((t) => t !== '');
    columns[name === '' ? 'index' : name] = numeric
      ? texts.map((text) => (text === '' ? Number.NaN : Number(text)))
      : texts;
  });
  return columns;
}

// ---------------------------------------------------------------------------------------------------
// Guide assignment

export interface GuideAssignmentOptions {
  /**
   * 'threshold' (default): every guide with at least `minUmi` UMIs (and at least `minFraction` of the
   * cell's guide UMIs); 'highest': only the cell's top guide, if it reaches `minUmi` and is not tied.
   */
  strategy?: 'threshold' | 'highest';
  minUmi: number;
  /** Fraction of the cell's total guide UMIs a guide needs (0 = off); tames ambient guide reads. */
  minFraction?: number;
}

export interface GuideAssignment {
  /** Per cell: assigned guide ids joined by ','. */
  guides: string[];
  /** Per cell: the assigned guides' targets, sorted, unique, joined by '+'; '' when none assigned. */
  targets: string[];
  guideCount: number[];
  guideUmis: number[];
}

/**
 * Assigns guides to cells from a cells × guides count matrix. Targets are joined by '+', control targets
 * (e.g. 'non-targeting') included: labels.ts drops a control component from a combination.
 */
export function assignGuides(
  counts: CsrMatrix,
  guideIds: string[],
  targetOfGuide: Map<string, string>,
  options: GuideAssignmentOptions,
  label: string,
): GuideAssignment {
  if (guideIds.length !== counts.cols) {
    throw new ScreenInputError(label, `${guideIds.length} guide ids for a matrix with ${counts.cols} guides`);
  }
  const missing = guideIds.filter((id) => !targetOfGuide.has(id));
  if (missing.length > 0) {
    throw new ScreenInputError(
      label,
      `${missing.length} guide(s) missing from the guide → target table: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
    );
  }
  if (!(options.minUmi >= 0)) throw new ScreenInputError(label, `minUmi must be ≥ 0, got ${options.minUmi}`);
  const minFraction = options.minFraction ?? 0;
  const strategy = options.strategy ?? 'threshold';
  const result: GuideAssignment = { guides: [], targets: [], guideCount: [], guideUmis: [] };
  for (let cell = 0; cell < counts.rows; cell++) {
    const start = counts.indptr[cell];
    const end = counts.indptr[cell + 1];
    let total = 0;
    let best = -1;
    let bestCount = -Infinity;
    let tied = false;
    for (let k = start; k < end; k++) {
      total += counts.data[k];
      if (counts.data[k] > bestCount) {
        bestCount = counts.data[k];
        best = counts.indices[k];
        tied = false;
      } else if (counts.data[k] === bestCount) tied = true;
    }
    const assigned: number[] = [];
    if (strategy === 'highest') {
      if (best >= 0 && !tied && bestCount >= options.minUmi && bestCount >= minFraction * total)
        assigned.push(best);
    } else {
      for (let k = start; k < end; k++) {
        const umis = counts.data[k];
        if (umis > 0 && umis >= options.minUmi && umis >= minFraction * total)
          assigned.push(counts.indices[k]);
      }
    }
    const ids = assigned.map((g) => guideIds[g]);
    const targets = [...new Set(ids.map((id) => targetOfGuide.get(id)!))].sort();
    result.guides.push(ids.join(','));
    result.targets.push(targets.join('+'));
    result.guideCount.push(ids.length);
    result.guideUmis.push(total);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// A whole MTX screen

export interface MtxScreenOptions {
  matrix: InputSource;
  /** 'auto' (default) decides by matching the gene list's length to one axis. */
  orientation?: 'genes-by-cells' | 'cells-by-genes' | 'auto';
  genes: InputSource;
  geneList?: GeneListOptions;
  /** Cell barcodes, one per line (10x barcodes.tsv); cells are named 0, 1, … without them. */
  barcodes?: InputSource;
  /** A CSV with a header and one row per cell in matrix order; its columns become obs. */
  obs?: InputSource;
  guides?: {
    counts: InputSource;
    /** Guide ids in the guide matrix's order (one per line). */
    ids: InputSource;
    /** CSV with a header mapping guide id → target ('grna_id,grna_target'; the first two columns by default). */
    targets: InputSource;
    guideColumn?: string;
    targetColumn?: string;
    orientation?: 'guides-by-cells' | 'cells-by-guides' | 'auto';
    assignment: GuideAssignmentOptions;
  };
  limits?: Partial<ReaderLimits>;
}

/** Name of the obs column that guide assignment writes its targets to (labels.ts reads it). */
export const GUIDE_TARGET_COLUMN = 'perturbation';

/** Reads a MatrixMarket screen with its gene list and cell annotations into a ScreenData. */
export async function readMtxScreen(options: MtxScreenOptions): Promise<ScreenData> {
  const limits = resolveLimits(options.limits);
  const matrixLabel = describeSource(options.matrix, 'uploaded count matrix');
  const geneLabel = describeSource(options.genes, 'uploaded gene list');
  const notes: string[] = [];
  const geneRecords = await readTextTable(options.genes, { limits, sourceName: geneLabel });
  const geneOptions = options.geneList ?? {};
  const orientation = options.orientation ?? 'auto';

  let genes: string[] = [];
  const { matrix: X } = await readMatrixMarket(options.matrix, {
    limits,
    sourceName: matrixLabel,
    cellAxis: (header) => {
      const fits = (count: number) => {
        try {
          genes = namesFromTable(geneRecords, count, geneOptions, geneLabel).names;
          return true;
        } catch {
          return false;
        }
      };
      if (orientation === 'genes-by-cells' || orientation === 'cells-by-genes') {
        const geneAxisLength = orientation === 'genes-by-cells' ? header.rows : header.cols;
        // Re-run for the error message if the list does not fit.
        if (!fits(geneAxisLength)) namesFromTable(geneRecords, geneAxisLength, geneOptions, geneLabel);
        return orientation === 'genes-by-cells' ? 'columns' : 'rows';
      }
      const rowsFit = fits(header.rows);
      const rowGenes = genes;
      const colsFit = fits(header.cols);
      if (rowsFit && colsFit && header.rows !== header.cols) {
        throw new ScreenInputError(
          matrixLabel,
          `the gene list fits both axes (${header.rows} × ${header.cols}); say which holds genes (orientation)`,
        );
      }
      if (rowsFit && colsFit) {
        throw new ScreenInputError(
          matrixLabel,
          'the matrix is square: say which axis holds genes (orientation)',
        );
      }
      if (rowsFit) {
        genes = rowGenes;
        return 'columns';
      }
      if (colsFit) return 'rows';
      throw new ScreenInputError(
        geneLabel,
        `${geneRecords.length} lines in the gene list match neither axis of the ${header.rows} × ${header.cols} matrix`,
      );
    },
  });
  if (geneRecords.length === genes.length + 1) notes.push(`${geneLabel}: first line taken as a header`);
  genes = makeUnique(genes, notes);

  const cellCount = X.rows;
  let cells = Array.from({ length: cellCount }, (_, i) => String(i));
  if (options.barcodes !== undefined) {
    const label = describeSource(options.barcodes, 'uploaded barcodes');
    const records = await readTextTable(options.barcodes, { limits, sourceName: label });
    cells = namesFromTable(records, cellCount, { column: 0, header: 'auto' }, label).names;
  }

  const obs: Record<string, ObsColumn> = {};
  if (options.obs !== undefined) {
    const label = describeSource(options.obs, 'uploaded cell table');
    const columns = columnsFromTable(await readTextTable(options.obs, { limits, sourceName: label }), label);
    const rows = Object.values(columns)[0]?.length ?? 0;
    if (rows !== cellCount) {
      throw new ScreenInputError(
        label,
        `${rows} rows for a matrix with ${cellCount} cells (one row per cell, in matrix order)`,
      );
    }
    Object.assign(obs, columns);
  }

  if (options.guides) {
    const guides = options.guides;
    const countsLabel = describeSource(guides.counts, 'uploaded guide counts');
    const idsLabel = describeSource(guides.ids, 'uploaded guide ids');
    const targetsLabel = describeSource(guides.targets, 'uploaded guide table');
    const guideOrientation = guides.orientation ?? 'auto';
    const { matrix: guideCounts } = await readMatrixMarket(guides.counts, {
      limits,
      sourceName: countsLabel,
      cellAxis: (header) => {
        if (guideOrientation === 'guides-by-cells') return 'columns';
        if (guideOrientation === 'cells-by-guides') return 'rows';
        if (header.cols === cellCount && header.rows !== cellCount) return 'columns';
        if (header.rows === cellCount && header.cols !== cellCount) return 'rows';
        throw new ScreenInputError(
          countsLabel,
          header.rows === cellCount
            ? 'both axes match the cell count: say which holds guides (orientation)'
            : `neither axis of the ${header.rows} × ${header.cols} guide matrix matches the ${cellCount} cells`,
        );
      },
    });
    if (guideCounts.rows !== cellCount) {
      throw new ScreenInputError(countsLabel, `${guideCounts.rows} cells, the count matrix has ${cellCount}`);
    }
    const idRecords = await readTextTable(guides.ids, { limits, sourceName: idsLabel });
    const guideIds = namesFromTable(idRecords, guideCounts.cols, { column: 0 }, idsLabel).names;
    const table = columnsFromTable(
      await readTextTable(guides.targets, { limits, sourceName: targetsLabel }),
      targetsLabel,
    );
    const names = Object.keys(table);
    const guideColumn = guides.guideColumn ?? names[0];
    const targetColumn = guides.targetColumn ?? names[1];
    if (!(guideColumn in table) || targetColumn === undefined || !(targetColumn in table)) {
      throw new ScreenInputError(
        targetsLabel,
        `needs a guide column and a target column (header: ${names.join(', ')})`,
      );
    }
    const targetOfGuide = new Map<string, string>();
    table[guideColumn].forEach((id, i) => targetOfGuide.set(String(id), String(table[targetColumn][i])));
    const assignment = assignGuides(guideCounts, guideIds, targetOfGuide, guides.assignment, countsLabel);
    obs.guides = assignment.guides;
    obs[GUIDE_TARGET_COLUMN] = assignment.targets;
    obs.n_guides = assignment.guideCount;
    obs.guide_umis = assignment.guideUmis;
    const unassigned = assignment.guideCount.filter((n) => n === 0).length;
    notes.push(
      `guides assigned (${guides.assignment.strategy ?? 'threshold'}, ≥ ${guides.assignment.minUmi} UMIs): ${cellCount - unassigned} cells with a guide, ${unassigned} without`,
    );
  }

  return { X, cells, genes, obs, var: {}, uns: {}, notes };
}
