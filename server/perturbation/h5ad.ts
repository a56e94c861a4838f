/**
 * `.h5ad` (AnnData on HDF5) reading and writing through h5wasm (DESIGN.md §5 "Input"), for screens
 * written by AnnData / scanpy and for the project's own exports (synthetic screens).
 *
 * Read: X (or a layer) stored dense, CSR or CSC — by the `encoding-type` attributes of AnnData ≥ 0.7 or
 * the older `h5sparse_format` attribute — always returned as cells × genes; obs / var dataframes with
 * their `_index`, plain columns, categoricals in both forms (the `encoding-type: categorical` group with
 * `categories` + `codes`, and the older `__categories/<column>` datasets beside integer codes), nullable
 * integer / boolean / string columns; top-level `uns` scalars, strings and numeric arrays.
 *
 * Write: the AnnData 0.8 layout (the oldest AnnData we test against reads it), X dense or CSR. String
 * columns are written as `string-array`, not categoricals: a categorical needs an HDF5 boolean enum for
 * its `ordered` attribute, which h5wasm cannot create, and AnnData 0.8 rejects any other type there.
 *
 * Malformed input (not HDF5, truncated, missing or mis-shaped elements, out-of-range codes or indices,
 * over the size limits) raises a ScreenInputError; the HDF5 handle is closed and any temporary copy
 * removed whatever happens.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Dataset, Group } from 'h5wasm/node';
import { canonicalCsr, csrFromCsc, csrFromDense, toDenseValues } from './sparse';
import {
  ScreenInputError,
  makeUnique,
  resolveLimits,
  type CsrMatrix,
  type DenseMatrix,
  type ExpressionMatrix,
  type InputSource,
  type ObsColumn,
  type ReaderLimits,
  type ScreenData,
  type UnsValue,
} from './types';

type H5File = InstanceType<typeof h5wasm.File>;
type NumericArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** HDF5 type classes (H5T_class_t) as h5wasm reports them in Dataset.metadata.type. */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_COMPOUND = 6;
const H5T_ENUM = 8;

/** Elements per hyperslab read: bounds how much of the WASM heap one read holds (16 MiB of float32). */
const READ_CHUNK_ELEMENTS = 1 << 22;

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface ReadH5adOptions {
  limits?: Partial<ReaderLimits>;
  /** Read `layers/<name>` instead of X (e.g. 'counts' when X holds normalised values). */
  layer?: string;
  /** obs columns to read (all when omitted); a named column that is absent is an error. */
  obsColumns?: string[];
  /** Name shown in error messages when the source is bytes. */
  sourceName?: string;
  /** Elements per hyperslab read (default 4 Mi); tests lower it to exercise the block loop. */
  readChunkElements?: number;
}

let h5wasmReady: Promise<unknown> | undefined;
async function ensureH5wasm(): Promise<void> {
  h5wasmReady ??= h5wasm.ready;
  await h5wasmReady;
}

/** Reads an .h5ad file (a path, or its bytes) into a ScreenData. */
export async function readH5ad(source: InputSource, options: ReadH5adOptions = {}): Promise<ScreenData> {
  await ensureH5wasm();
  if (typeof source === 'string') return readH5adFile(path.resolve(source), source, options);
  // h5wasm's Node build reads the host file system (NODERAWFS), so bytes go through a private temporary
  // file that is removed whatever happens.
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-h5ad-'));
  try {
    const file = path.join(directory, 'upload.h5ad');
    fs.writeFileSync(file, source);
    return readH5adFile(file, options.sourceName ?? 'uploaded .h5ad', options);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

function readH5adFile(filePath: string, label: string, options: ReadH5adOptions): ScreenData {
  const headerProblem = checkHdf5Header(filePath);
  if (headerProblem) throw new ScreenInputError(label, headerProblem);
  let file: H5File;
  try {
    file = new h5wasm.File(filePath, 'r');
  } catch (error) {
    throw new ScreenInputError(label, `HDF5 could not open the file (${describeError(error)})`);
  }
  if (file.file_id < 0n) {
    throw new ScreenInputError(label, 'HDF5 could not open the file (corrupt or truncated)');
  }
  try {
    const chunkElements = options.readChunkElements ?? READ_CHUNK_ELEMENTS;
    return new H5adReader(file, label, resolveLimits(options.limits), chunkElements).read(options);
  } catch (error) {
    if (error instanceof ScreenInputError) throw error;
    throw new ScreenInputError(label, `HDF5 read failed: ${describeError(error)}`);
  } finally {
    file.close();
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/**
 * Checks the HDF5 signature and that the file is as long as its superblock says, so a truncated upload
 * gets a precise message instead of HDF5's error stack. Superblock layouts from the HDF5 File Format
 * Specification (version 0/1 and 2/3); a userblock (signature at 512, 1024, …) is allowed.
 */
function checkHdf5Header(filePath: string): string | null {
  let descriptor: number;
  try {
    descriptor = fs.openSync(filePath, 'r');
  } catch (error) {
    return `cannot open the file (${describeError(error)})`;
  }
  try {
    const size = fs.fstatSync(descriptor).size;
    const head = Buffer.alloc(128);
    for (let base = 0; base === 0 || base + 8 <= size; base = base === 0 ? 512 : base * 2) {
      const read = fs.readSync(descriptor, head, 0, head.length, base);
      if (read < 8 || !head.subarray(0, 8).equals(HDF5_SIGNATURE)) {
        if (base >= 1 << 20) break;
        continue;
      }
      const version = head[8];
      const offsetSize = version <= 1 ? head[13] : head[9];
      if (offsetSize !== 8 && offsetSize !== 4)
        return `unsupported HDF5 superblock (offset size ${offsetSize})`;
      // Versions 0 / 1 list their addresses after 24 / 28 bytes, versions 2 / 3 after 12: first the base
      // address (where the superblock sits, i.e. the userblock size), then one more, then end-of-file.
      const addressesAt = version === 0 ? 24 : version === 1 ? 28 : 12;
      if (read < addressesAt + 3 * offsetSize) return 'truncated HDF5 superblock';
      const baseAddress = readOffset(head, addressesAt, offsetSize);
      const endOfFile = readOffset(head, addressesAt + 2 * offsetSize, offsetSize);
      // An undefined address (all ones) leaves the length to HDF5 itself.
      if (endOfFile >= Number.MAX_SAFE_INTEGER) return null;
      const expected = (baseAddress === 0 ? base : baseAddress) + endOfFile;
      if (size < expected) {
        return `truncated: the file has ${size} bytes but its HDF5 superblock says ${expected} (an incomplete upload or copy?)`;
      }
      return null;
    }
    return 'not an HDF5 file (no HDF5 signature); .h5ad files are HDF5 files written by AnnData';
  } finally {
    fs.closeSync(descriptor);
  }
}

function readOffset(buffer: Buffer, at: number, size: number): number {
  return size === 8 ? Number(buffer.readBigUInt64LE(at)) : buffer.readUInt32LE(at);
}

class H5adReader {
  readonly notes: string[] = [];

  constructor(
    private readonly file: H5File,
    private readonly label: string,
    private readonly limits: ReaderLimits,
    private readonly chunkElements: number,
  ) {}

  private fail(problem: string): never {
    throw new ScreenInputError(this.label, problem);
  }

  read(options: ReadH5adOptions): ScreenData {
    const obs = this.readDataframe('obs', options.obsColumns);
    const vars = this.readDataframe('var');
    const matrixPath = options.layer === undefined ? 'X' : `layers/${options.layer}`;
    if (obs.index.length > this.limits.maxCells) {
      this.fail(`${obs.index.length} cells exceed the limit of ${this.limits.maxCells}`);
    }
    if (vars.index.length > this.limits.maxGenes) {
      this.fail(`${vars.index.length} genes exceed the limit of ${this.limits.maxGenes}`);
    }
    const X = this.readMatrix(matrixPath);
    if (X.rows !== obs.index.length || X.cols !== vars.index.length) {
      this.fail(
        `${matrixPath} is ${X.rows} × ${X.cols} but obs has ${obs.index.length} cells and var ${vars.index.length} genes`,
      );
    }
    return {
      X,
      cells: obs.index,
      genes: makeUnique(vars.index, this.notes),
      obs: obs.columns,
      var: vars.columns,
      uns: this.readUns(),
      notes: this.notes,
    };
  }

  // -- elements -----------------------------------------------------------------------------------

  private get(elementPath: string): Dataset | Group | null {
    const entity = this.file.get(elementPath);
    if (entity instanceof h5wasm.Dataset || entity instanceof h5wasm.Group) return entity;
    return null;
  }

  private getDataset(elementPath: string): Dataset {
    const entity = this.get(elementPath);
    if (!(entity instanceof h5wasm.Dataset)) this.fail(`missing dataset ${elementPath}`);
    return entity;
  }

  private attribute(entity: Dataset | Group, name: string): unknown {
    if (!Object.prototype.hasOwnProperty.call(entity.attrs, name)) return undefined;
    return entity.attrs[name].value;
  }

  private stringAttribute(entity: Dataset | Group, name: string): string | undefined {
    const value = this.attribute(entity, name);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
      return String(value);
    return undefined;
  }

  private numberListAttribute(entity: Dataset | Group, name: string): number[] | undefined {
    const value = this.attribute(entity, name);
    if (value === undefined) return undefined;
    if (typeof value === 'number' || typeof value === 'bigint') return [Number(value)];
    if (ArrayBuffer.isView(value)) return Array.from(value as NumericArray, Number);
    return undefined;
  }

  private stringListAttribute(entity: Dataset | Group, name: string): string[] | undefined {
    const value = this.attribute(entity, name);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return [value];
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
    // AnnData writes an empty column-order as an empty float64 array.
    if (ArrayBuffer.isView(value) && (value as NumericArray).length === 0) return [];
    return undefined;
  }

  // -- numeric datasets ---------------------------------------------------------------------------

  private typeClass(dataset: Dataset): number {
    const { type, littleEndian, size } = dataset.metadata;
    if ((type === H5T_INTEGER || type === H5T_FLOAT) && !littleEndian && size > 1) {
      this.fail(`${dataset.path} is stored big-endian, which this reader does not support`);
    }
    if (type === H5T_FLOAT && size === 2) this.fail(`${dataset.path} holds float16 values, not supported`);
    return type;
  }

  private isNumeric(dataset: Dataset): boolean {
    const type = this.typeClass(dataset);
    return type === H5T_INTEGER || type === H5T_FLOAT || type === H5T_ENUM;
  }

  private length1d(dataset: Dataset): number {
    const shape = dataset.shape;
    if (!shape || shape.length !== 1)
      this.fail(`${dataset.path} should be one-dimensional, has shape [${shape?.join(', ') ?? ''}]`);
    return shape[0];
  }

  /** A 1-D numeric dataset, read in slices, converted into `into` (which sets the element type). */
  private readNumeric<T extends Float32Array | Float64Array | Int32Array>(
    dataset: Dataset,
    into: T,
    integral: boolean,
  ): T {
    if (!this.isNumeric(dataset)) this.fail(`${dataset.path} should hold numbers`);
    const total = this.length1d(dataset);
    if (total !== into.length) this.fail(`${dataset.path} has ${total} values, expected ${into.length}`);
    for (let start = 0; start < total; start += this.chunkElements) {
      const end = Math.min(total, start + this.chunkElements);
      const block = dataset.slice([[start, end]]) as NumericArray;
      copyNumeric(block, into, start, integral ? dataset.path : null, this.label);
    }
    return into;
  }

  private readNumberColumn(dataset: Dataset): number[] {
    return Array.from(this.readNumeric(dataset, new Float64Array(this.length1d(dataset)), false));
  }

  private readStrings(dataset: Dataset): string[] {
    if (this.typeClass(dataset) !== H5T_STRING) this.fail(`${dataset.path} should hold strings`);
    this.length1d(dataset);
    const value = dataset.value;
    if (typeof value === 'string') return [value];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      this.fail(`${dataset.path} could not be read as strings`);
    }
    return value;
  }

  // -- X ------------------------------------------------------------------------------------------

  private readMatrix(elementPath: string): ExpressionMatrix {
    const element = this.get(elementPath);
    if (!element) {
      const layers = this.get('layers');
      const available = layers instanceof h5wasm.Group ? layers.keys() : [];
      this.fail(
        `no ${elementPath} in the file` +
          (available.length ? ` (layers present: ${available.join(', ')})` : ''),
      );
    }
    if (element instanceof h5wasm.Dataset) return this.readDenseMatrix(element);

    const encoding = this.stringAttribute(element, 'encoding-type');
    const legacyFormat = this.stringAttribute(element, 'h5sparse_format');
    let format: 'csr' | 'csc';
    if (encoding === 'csr_matrix' || encoding === 'csc_matrix')
      format = encoding === 'csr_matrix' ? 'csr' : 'csc';
    else if (legacyFormat === 'csr' || legacyFormat === 'csc') format = legacyFormat;
    else {
      this.fail(
        `${elementPath} is a group with encoding-type '${encoding ?? '(none)'}'; expected csr_matrix or csc_matrix`,
      );
    }
    const shape =
      this.numberListAttribute(element, 'shape') ?? this.numberListAttribute(element, 'h5sparse_shape');
    if (!shape || shape.length !== 2 || !shape.every((n) => Number.isInteger(n) && n >= 0)) {
      this.fail(`${elementPath} has no valid 'shape' attribute (two non-negative integers)`);
    }
    const [rows, cols] = shape;
    this.checkShapeLimits(rows, cols);
    const indptrSet = this.getDataset(`${elementPath}/indptr`);
    const indicesSet = this.getDataset(`${elementPath}/indices`);
    const dataSet = this.getDataset(`${elementPath}/data`);
    const major = format === 'csr' ? rows : cols;
    const minor = format === 'csr' ? cols : rows;
    const nnz = this.length1d(dataSet);
    if (nnz > this.limits.maxStoredValues) {
      this.fail(`${elementPath} stores ${nnz} values, over the limit of ${this.limits.maxStoredValues}`);
    }
    if (this.length1d(indptrSet) !== major + 1) {
      this.fail(
        `${elementPath}/indptr has ${this.length1d(indptrSet)} entries; a ${rows} × ${cols} ${format} matrix needs ${major + 1}`,
      );
    }
    if (this.length1d(indicesSet) !== nnz) {
      this.fail(`${elementPath}/indices has ${this.length1d(indicesSet)} entries but data has ${nnz}`);
    }
    const indptr = this.readNumeric(indptrSet, new Int32Array(major + 1), true);
    if (indptr[0] !== 0 || indptr[major] !== nnz) {
      this.fail(
        `${elementPath}/indptr must run from 0 to ${nnz}, runs from ${indptr[0]} to ${indptr[major]}`,
      );
    }
    for (let i = 0; i < major; i++) {
      if (indptr[i + 1] < indptr[i]) this.fail(`${elementPath}/indptr decreases at position ${i + 1}`);
    }
    const indices = this.readNumeric(indicesSet, new Int32Array(nnz), true);
    for (let k = 0; k < nnz; k++) {
      if (indices[k] < 0 || indices[k] >= minor) {
        this.fail(`${elementPath}/indices[${k}] = ${indices[k]} is outside 0…${minor - 1}`);
      }
    }
    const data = this.readNumeric(dataSet, new Float32Array(nnz), false);
    if (format === 'csc') {
      this.notes.push(`${elementPath} stored as CSC; converted to cells × genes CSR`);
      return csrFromCsc(rows, cols, indptr, indices, data);
    }
    const matrix: CsrMatrix = { format: 'csr', rows, cols, indptr, indices, data };
    return canonicalCsr(matrix);
  }

  private readDenseMatrix(dataset: Dataset): DenseMatrix {
    const shape = dataset.shape;
    if (!shape || shape.length !== 2)
      this.fail(`${dataset.path} should be a 2-D matrix, has shape [${shape?.join(', ') ?? ''}]`);
    if (!this.isNumeric(dataset)) this.fail(`${dataset.path} should hold numbers`);
    const [rows, cols] = shape;
    this.checkShapeLimits(rows, cols);
    if (rows * cols > this.limits.maxStoredValues) {
      this.fail(
        `dense ${dataset.path} holds ${rows * cols} values, over the limit of ${this.limits.maxStoredValues}`,
      );
    }
    const values = new Float32Array(rows * cols);
    const rowsPerBlock = Math.max(1, Math.floor(this.chunkElements / Math.max(1, cols)));
    for (let start = 0; start < rows; start += rowsPerBlock) {
      const end = Math.min(rows, start + rowsPerBlock);
      const block = dataset.slice([[start, end], []]) as NumericArray;
      copyNumeric(block, values, start * cols, null, this.label);
    }
    return { format: 'dense', rows, cols, values };
  }

  private checkShapeLimits(rows: number, cols: number): void {
    if (rows > this.limits.maxCells) this.fail(`${rows} cells exceed the limit of ${this.limits.maxCells}`);
    if (cols > this.limits.maxGenes) this.fail(`${cols} genes exceed the limit of ${this.limits.maxGenes}`);
  }

  // -- dataframes ---------------------------------------------------------------------------------

  private readDataframe(
    name: 'obs' | 'var',
    wantedColumns?: string[],
  ): { index: string[]; columns: Record<string, ObsColumn> } {
    const element = this.get(name);
    if (!element) this.fail(`no ${name} dataframe in the file`);
    if (element instanceof h5wasm.Dataset) {
      if (element.metadata.type === H5T_COMPOUND) {
        this.fail(`${name} is stored as a compound table (AnnData < 0.7); re-save it with a newer AnnData`);
      }
      this.fail(`${name} should be a group (an AnnData dataframe)`);
    }
    const keys = new Set(element.keys());
    const indexName = this.stringAttribute(element, '_index') ?? (keys.has('_index') ? '_index' : undefined);
    const legacyCategories = this.get(`${name}/__categories`);
    const order =
      this.stringListAttribute(element, 'column-order') ??
      [...keys].filter((key) => key !== indexName && key !== '__categories');
    const columnNames = wantedColumns ?? order;
    const columns: Record<string, ObsColumn> = {};
    for (const column of columnNames) {
      if (!keys.has(column)) {
        this.fail(`${name} has no column '${column}' (columns: ${order.join(', ') || 'none'})`);
      }
      const legacy =
        legacyCategories instanceof h5wasm.Group && legacyCategories.keys().includes(column)
          ? this.getDataset(`${name}/__categories/${column}`)
          : null;
      columns[column] = this.readColumn(`${name}/${column}`, legacy);
    }

    let index: string[];
    if (indexName !== undefined) {
      if (!keys.has(indexName)) this.fail(`${name}'s _index names '${indexName}', which is not in ${name}`);
      const indexColumn = this.readColumn(`${name}/${indexName}`, null);
      index = indexColumn.map((value) => String(value));
    } else {
      const length = Object.values(columns)[0]?.length;
      if (length === undefined) this.fail(`${name} has neither an _index nor any column to count its rows`);
      index = Array.from({ length }, (_, i) => String(i));
      this.notes.push(`${name} has no _index; rows named 0…${length - 1}`);
    }
    for (const [column, values] of Object.entries(columns)) {
      if (values.length !== index.length) {
        this.fail(`${name} column '${column}' has ${values.length} values but the index has ${index.length}`);
      }
    }
    return { index, columns };
  }

  private readColumn(elementPath: string, legacyCategories: Dataset | null): ObsColumn {
    const element = this.get(elementPath);
    if (!element) this.fail(`missing ${elementPath}`);
    if (element instanceof h5wasm.Group) {
      const encoding = this.stringAttribute(element, 'encoding-type');
      if (encoding === 'categorical') {
        return this.decodeCategorical(
          elementPath,
          this.getDataset(`${elementPath}/codes`),
          this.getDataset(`${elementPath}/categories`),
        );
      }
      if (encoding === 'nullable-integer' || encoding === 'nullable-boolean') {
        const values = this.readNumberColumn(this.getDataset(`${elementPath}/values`));
        const mask = this.readNumberColumn(this.getDataset(`${elementPath}/mask`));
        if (mask.length !== values.length) this.fail(`${elementPath}: mask and values differ in length`);
        return values.map((value, i) => (mask[i] ? Number.NaN : value));
      }
      if (encoding === 'nullable-string-array') {
        const values = this.readStrings(this.getDataset(`${elementPath}/values`));
        const mask = this.readNumberColumn(this.getDataset(`${elementPath}/mask`));
        if (mask.length !== values.length) this.fail(`${elementPath}: mask and values differ in length`);
        return values.map((value, i) => (mask[i] ? '' : value));
      }
      this.fail(`${elementPath} has unsupported encoding-type '${encoding ?? '(none)'}'`);
    }
    if (legacyCategories) return this.decodeCategorical(elementPath, element, legacyCategories);
    return this.isNumeric(element) ? this.readNumberColumn(element) : this.readStrings(element);
  }

  private decodeCategorical(elementPath: string, codesSet: Dataset, categoriesSet: Dataset): ObsColumn {
    const codes = this.readNumeric(codesSet, new Int32Array(this.length1d(codesSet)), true);
    const numericCategories = this.isNumeric(categoriesSet);
    const categories: ObsColumn = numericCategories
      ? this.readNumberColumn(categoriesSet)
      : this.readStrings(categoriesSet);
    for (let i = 0; i < codes.length; i++) {
      if (codes[i] < -1 || codes[i] >= categories.length) {
        this.fail(
          `${elementPath}: code ${codes[i]} at row ${i} is outside the ${categories.length} categories`,
        );
      }
    }
    // Code −1 is pandas' missing value: NaN for numeric categories, '' for string ones.
    if (numericCategories) {
      const numbers = categories as number[];
      return Array.from(codes, (code) => (code < 0 ? Number.NaN : numbers[code]));
    }
    const strings = categories as string[];
    return Array.from(codes, (code) => (code < 0 ? '' : strings[code]));
  }

  // -- uns ----------------------------------------------------------------------------------------

  /** Top-level uns datasets (scalars, strings, numeric arrays); nested dictionaries are skipped. */
  private readUns(): Record<string, UnsValue> {
    const uns = this.get('uns');
    const result: Record<string, UnsValue> = {};
    if (!(uns instanceof h5wasm.Group)) return result;
    for (const key of uns.keys()) {
      const element = this.get(`uns/${key}`);
      if (!(element instanceof h5wasm.Dataset)) continue;
      const shape = element.shape ?? [];
      const type = element.metadata.type;
      if (type === H5T_STRING) {
        const value = element.value;
        if (typeof value === 'string') result[key] = value;
        else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) result[key] = value;
      } else if (this.isNumeric(element)) {
        if (shape.length === 0) {
          result[key] = Number(element.value);
        } else {
          const total = shape.reduce((a, b) => a * b, 1);
          if (total > this.limits.maxStoredValues) continue;
          const values = new Float64Array(total);
          copyNumeric(element.value as NumericArray, values, 0, null, this.label);
          result[key] = { shape: [...shape], values };
        }
      }
    }
    return result;
  }
}

/** Copies a block h5wasm returned into `into` at `offset`, converting integers (incl. 64-bit) to numbers. */
function copyNumeric(
  block: NumericArray,
  into: Float32Array | Float64Array | Int32Array,
  offset: number,
  integralCheckPath: string | null,
  label: string,
): void {
  if (block instanceof BigInt64Array || block instanceof BigUint64Array) {
    for (let k = 0; k < block.length; k++) {
      const value = Number(block[k]);
      if (integralCheckPath !== null && (value > 2147483647 || value < -2147483648)) {
        throw new ScreenInputError(label, `${integralCheckPath} holds ${value}, beyond 32-bit indices`);
      }
      into[offset + k] = value;
    }
    return;
  }
  if (integralCheckPath !== null && (block instanceof Float32Array || block instanceof Float64Array)) {
    for (let k = 0; k < block.length; k++) {
      if (!Number.isInteger(block[k])) {
        throw new ScreenInputError(
          label,
          `${integralCheckPath} holds ${block[k]} where integers are expected`,
        );
      }
    }
  }
  if (integralCheckPath !== null && block instanceof Uint32Array) {
    for (let k = 0; k < block.length; k++) {
      if (block[k] > 2147483647) {
        throw new ScreenInputError(label, `${integralCheckPath} holds ${block[k]}, beyond 32-bit indices`);
      }
    }
  }
  into.set(block, offset);
}

// ---------------------------------------------------------------------------------------------------
// Writing

export interface WriteH5adOptions {
  /** How X is stored: 'csr' (default for CSR input) or 'dense' (default for dense input). */
  xFormat?: 'dense' | 'csr';
}

export type WritableScreen = Pick<ScreenData, 'X' | 'cells' | 'genes' | 'obs'> &
  Partial<Pick<ScreenData, 'var' | 'uns'>>;

/**
 * Writes a screen as .h5ad that AnnData reads. The file appears complete or not at all: it is written
 * under a temporary name in the target folder and renamed when closed.
 */
export async function writeH5ad(filePath: string, screen: WritableScreen, options: WriteH5adOptions = {}) {
  await ensureH5wasm();
  validateWritable(screen);
  const target = path.resolve(filePath);
  const temporary = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`,
  );
  const file = new h5wasm.File(temporary, 'w');
  if (file.file_id < 0n) throw new Error(`writeH5ad: cannot create ${temporary}`);
  try {
    try {
      writeScreen(file, screen, options.xFormat ?? (screen.X.format === 'csr' ? 'csr' : 'dense'));
    } finally {
      file.close();
    }
    fs.renameSync(temporary, target);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}

function validateWritable(screen: WritableScreen): void {
  const { X, cells, genes } = screen;
  if (X.rows !== cells.length) throw new Error(`writeH5ad: X has ${X.rows} rows for ${cells.length} cells`);
  if (X.cols !== genes.length)
    throw new Error(`writeH5ad: X has ${X.cols} columns for ${genes.length} genes`);
  const check = (frame: string, columns: Record<string, ObsColumn>, length: number) => {
    for (const [name, values] of Object.entries(columns)) {
      if (values.length !== length) {
        throw new Error(
          `writeH5ad: ${frame} column '${name}' has ${values.length} values for ${length} rows`,
        );
      }
      if (name.includes('/') || name === '_index' || name === '__categories' || name === '') {
        throw new Error(`writeH5ad: '${name}' cannot be a ${frame} column name`);
      }
    }
  };
  check('obs', screen.obs, cells.length);
  check('var', screen.var ?? {}, genes.length);
  if (cells.length === 0 || genes.length === 0)
    throw new Error('writeH5ad: a screen needs at least one cell and one gene');
}

function setEncoding(entity: Dataset | Group, type: string, version: string): void {
  entity.create_attribute('encoding-type', type);
  entity.create_attribute('encoding-version', version);
}

function writeScreen(file: H5File, screen: WritableScreen, xFormat: 'dense' | 'csr'): void {
  setEncoding(file, 'anndata', '0.1.0');
  writeMatrix(file, screen.X, xFormat);
  writeDataframe(file, 'obs', screen.cells, screen.obs);
  writeDataframe(file, 'var', screen.genes, screen.var ?? {});
  for (const name of ['layers', 'obsm', 'obsp', 'varm', 'varp'])
    setEncoding(file.create_group(name), 'dict', '0.1.0');
  const uns = file.create_group('uns');
  setEncoding(uns, 'dict', '0.1.0');
  for (const [key, value] of Object.entries(screen.uns ?? {})) writeUnsValue(uns, key, value);
}

function writeMatrix(file: H5File, X: ExpressionMatrix, xFormat: 'dense' | 'csr'): void {
  if (xFormat === 'dense') {
    const values = toDenseValues(X);
    const dataset = file.create_dataset({ name: 'X', data: values, shape: [X.rows, X.cols], dtype: '<f' });
    setEncoding(dataset, 'array', '0.2.0');
    return;
  }
  const csr = X.format === 'csr' ? canonicalCsr(X) : csrFromDense(X);
  const group = file.create_group('X');
  setEncoding(group, 'csr_matrix', '0.1.0');
  group.create_attribute('shape', new BigInt64Array([BigInt(X.rows), BigInt(X.cols)]));
  const nnz = csr.indptr[csr.rows];
  group.create_dataset({ name: 'data', data: csr.data.subarray(0, nnz), dtype: '<f' });
  group.create_dataset({ name: 'indices', data: csr.indices.subarray(0, nnz), dtype: '<i' });
  group.create_dataset({ name: 'indptr', data: csr.indptr, dtype: '<i' });
}

function writeDataframe(
  file: H5File,
  name: string,
  index: string[],
  columns: Record<string, ObsColumn>,
): void {
  const group = file.create_group(name);
  group.create_attribute('_index', '_index');
  const order = Object.keys(columns);
  // AnnData writes an empty column order as an empty float64 array; h5wasm cannot write an empty string list.
  group.create_attribute('column-order', order.length > 0 ? order : new Float64Array(0));
  setEncoding(group, 'dataframe', '0.2.0');
  const indexSet = group.create_dataset({ name: '_index', data: index });
  setEncoding(indexSet, 'string-array', '0.2.0');
  for (const [column, values] of Object.entries(columns)) writeColumn(group, column, values);
}

function writeColumn(group: Group, name: string, values: ObsColumn): void {
  if (values.length > 0 && typeof values[0] === 'string') {
    const dataset = group.create_dataset({ name, data: (values as string[]).map(String) });
    setEncoding(dataset, 'string-array', '0.2.0');
    return;
  }
  const numbers = values as number[];
  // Integer columns stay integers in pandas (int64), as AnnData would have written them.
  const integral = numbers.every((value) => Number.isSafeInteger(value));
  const data = integral ? BigInt64Array.from(numbers, (value) => BigInt(value)) : Float64Array.from(numbers);
  const dataset = group.create_dataset({ name, data });
  setEncoding(dataset, 'array', '0.2.0');
}

function writeUnsValue(group: Group, key: string, value: UnsValue): void {
  if (key.includes('/') || key === '') throw new Error(`writeH5ad: '${key}' cannot be an uns key`);
  if (typeof value === 'string') {
    setEncoding(group.create_dataset({ name: key, data: value }), 'string', '0.2.0');
  } else if (typeof value === 'number') {
    setEncoding(
      group.create_dataset({ name: key, data: new Float64Array([value]), shape: [] }),
      'numeric-scalar',
      '0.2.0',
    );
  } else if (Array.isArray(value)) {
    setEncoding(group.create_dataset({ name: key, data: value }), 'string-array', '0.2.0');
  } else {
    const total = value.shape.reduce((a, b) => a * b, 1);
    if (total !== value.values.length) {
      throw new Error(
        `writeH5ad: uns '${key}' has ${value.values.length} values for shape [${value.shape.join(', ')}]`,
      );
    }
    setEncoding(
      group.create_dataset({ name: key, data: value.values, shape: value.shape }),
      'array',
      '0.2.0',
    );
  }
}
