/**
 * Expression matrices as CSV (DESIGN.md §5 "Input": "or CSV"), parsed as a stream by csv-parse.
 *
 * cells-by-genes: a header row; the index column (the first, by default, as pandas writes it) names the
 * cells; columns listed in `obsColumns` are cell annotations (e.g. the perturbation label); every other
 * column is a gene and every value in it must be a number.
 * genes-by-cells: a header row of cell names after the index column; each row is a gene.
 */
import { parseFiniteNumber, readRecords } from './textInput';
import {
  ScreenInputError,
  describeSource,
  makeUnique,
  resolveLimits,
  type InputSource,
  type ObsColumn,
  type ReaderLimits,
  type ScreenData,
} from './types';

export interface CsvScreenOptions {
  orientation: 'cells-by-genes' | 'genes-by-cells';
  /** Column naming the rows: a header name, a 0-based index, or null for none. Default: the first column. */
  indexColumn?: string | number | null;
  /** cells-by-genes only: columns holding cell annotations rather than expression. */
  obsColumns?: string[];
  limits?: Partial<ReaderLimits>;
  sourceName?: string;
}

export async function readCsvScreen(source: InputSource, options: CsvScreenOptions): Promise<ScreenData> {
  const label = options.sourceName ?? describeSource(source, 'uploaded CSV');
  const limits = resolveLimits(options.limits);
  const fail: (problem: string) => never = (problem) => {
    throw new ScreenInputError(label, problem);
  };
  const cellsByGenes = options.orientation === 'cells-by-genes';
  const obsColumns = options.obsColumns ?? [];
  if (!cellsByGenes && obsColumns.length > 0) fail('obsColumns applies to cells-by-genes CSV files only');

  let header: string[] | null = null;
  let indexAt = -1;
  let valueColumns: number[] = [];
  const obsAt: number[] = [];
  const rowNames: string[] = [];
  const obsValues: string[][] = obsColumns.map(() => []);
  const blocks: Float32Array[] = [];
  let lineNumber = 0;

  for await (const record of readRecords(source, label, limits, { trim: true })) {
    lineNumber++;
    if (header === null) {
      header = record;
      indexAt = resolveIndexColumn(header, options.indexColumn, fail);
      for (const name of obsColumns) {
        const at = header.indexOf(name);
        if (at < 0)
          fail(
            `no column '${name}' (header: ${header.slice(0, 10).join(', ')}${header.length > 10 ? ', …' : ''})`,
          );
        obsAt.push(at);
      }
      valueColumns = header.map((_, i) => i).filter((i) => i !== indexAt && !obsAt.includes(i));
      const valueAxis = valueColumns.length;
      if (cellsByGenes && valueAxis > limits.maxGenes)
        fail(`${valueAxis} genes exceed the limit of ${limits.maxGenes}`);
      if (!cellsByGenes && valueAxis > limits.maxCells)
        fail(`${valueAxis} cells exceed the limit of ${limits.maxCells}`);
      if (valueAxis === 0) fail('no value columns after the index and annotation columns');
      continue;
    }
    if (record.length !== header.length) {
      fail(`line ${lineNumber} has ${record.length} fields, the header ${header.length}`);
    }
    const rowCount = blocks.length + 1;
    if (cellsByGenes && rowCount > limits.maxCells) fail(`more than ${limits.maxCells} cells`);
    if (!cellsByGenes && rowCount > limits.maxGenes) fail(`more than ${limits.maxGenes} genes`);
    if (rowCount * valueColumns.length > limits.maxStoredValues) {
      fail(`more than ${limits.maxStoredValues} values`);
    }
    const values = new Float32Array(valueColumns.length);
    for (let j = 0; j < valueColumns.length; j++) {
      const text = record[valueColumns[j]];
      const value = parseFiniteNumber(text);
      if (value === null) {
        fail(
          `line ${lineNumber}, column '${header[valueColumns[j]]}': "${text}" is not a number` +
            (cellsByGenes && lineNumber === 2 ? ' (an annotation column? list it in obsColumns)' : ''),
        );
      }
      values[j] = value;
    }
    blocks.push(values);
    rowNames.push(indexAt >= 0 ? record[indexAt] : String(rowNames.length));
    obsAt.forEach((at, c) => obsValues[c].push(record[at]));
  }
  if (header === null) return fail('the file is empty');
  if (blocks.length === 0) fail('no data rows after the header');

  const columnNames = valueColumns.map((i) => header[i]);
  const notes: string[] = [];
  const obs: Record<string, ObsColumn> = {};
  obsColumns.forEach((name, c) => (obs[name] = obsValues[c]));
  if (cellsByGenes) {
    const values = new Float32Array(blocks.length * columnNames.length);
    blocks.forEach((row, i) => values.set(row, i * columnNames.length));
    return {
      X: { format: 'dense', rows: blocks.length, cols: columnNames.length, values },
      cells: rowNames,
      genes: makeUnique(columnNames, notes),
      obs,
      var: {},
      uns: {},
      notes,
    };
  }
  // genes-by-cells: transpose into cells × genes.
  const cells = columnNames.length;
  const genes = blocks.length;
  const values = new Float32Array(cells * genes);
  blocks.forEach((row, g) => {
    for (let c = 0; c < cells; c++) values[c * genes + g] = row[c];
  });
  return {
    X: { format: 'dense', rows: cells, cols: genes, values },
    cells: columnNames,
    genes: makeUnique(rowNames, notes),
    obs,
    var: {},
    uns: {},
    notes,
  };
}

function resolveIndexColumn(
  header: string[],
  indexColumn: string | number | null | undefined,
  fail: (problem: string) => never,
): number {
  if (indexColumn === null) return -1;
  if (indexColumn === undefined) return 0;
  if (typeof indexColumn === 'number') {
    if (indexColumn < 0 || indexColumn >= header.length)
      fail(`index column ${indexColumn} is outside the header`);
    return indexColumn;
  }
  const at = header.indexOf(indexColumn);
  if (at < 0) fail(`no index column '${indexColumn}' in the header`);
  return at;
}
