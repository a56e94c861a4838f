/**
 * The in-memory shapes that every perturbation-screen reader produces and that preprocessing, the
 * synthetic-screen generator and the LCD / CLIPR engines consume (DESIGN.md §5). Nothing here touches a
 * database or HTTP: readers take a path or bytes, preprocessing takes a ScreenData.
 *
 * Orientation is fixed everywhere: **rows are cells, columns are genes** (AnnData's obs × var), whatever
 * the orientation of the file the matrix came from.
 */

/** A dense cells × genes matrix, row-major: the value of cell i, gene j is `values[i * cols + j]`. */
export interface DenseMatrix {
  readonly format: 'dense';
  readonly rows: number;
  readonly cols: number;
  readonly values: Float32Array;
}

/**
 * A compressed-sparse-row cells × genes matrix. Cell i's stored entries are
 * `indices[k], data[k]` for `k` in `[indptr[i], indptr[i + 1])`. Readers guarantee canonical form: column
 * indices strictly increasing within a row (no duplicates; duplicates in a file are summed, as scipy does).
 * Explicit zeros may remain where the file stored them.
 */
export interface CsrMatrix {
  readonly format: 'csr';
  readonly rows: number;
  readonly cols: number;
  /** Length rows + 1; indptr[0] = 0, indptr[rows] = number of stored entries. */
  readonly indptr: Int32Array;
  readonly indices: Int32Array;
  readonly data: Float32Array;
}

/** Values are held as float32, whatever the file stored (UMI counts below 2^24 are exact). */
export type ExpressionMatrix = DenseMatrix | CsrMatrix;

/**
 * One obs / var column. Strings: plain strings and categoricals (decoded from `categories` + `codes`; a
 * missing category, code −1, becomes ''). Numbers: integers, floats, booleans (0 / 1); missing is NaN.
 */
export type ObsColumn = string[] | number[];

/** An unstructured (`uns`) value: what the synthetic screens store beside the data (e.g. the true A). */
export type UnsValue =
  string | number | string[] | { readonly shape: number[]; readonly values: Float64Array | Float32Array };

/**
 * A screen as read from a file: the AnnData-like core. `X.rows === cells.length === every obs column's
 * length`; `X.cols === genes.length === every var column's length`.
 */
export interface ScreenData {
  X: ExpressionMatrix;
  /** obs_names (cell barcodes or generated '0', '1', … when the file had none). */
  cells: string[];
  /** var_names (gene symbols, made unique the way AnnData's var_names_make_unique does when needed). */
  genes: string[];
  obs: Record<string, ObsColumn>;
  var: Record<string, ObsColumn>;
  uns: Record<string, UnsValue>;
  /** What the reader assumed or changed (a header line taken as such, duplicate gene names renamed, …). */
  notes: string[];
}

/**
 * Bounds every reader enforces before it allocates: a file over them is rejected with a message naming
 * the bound, so an upload cannot exhaust the worker's memory.
 */
export interface ReaderLimits {
  maxCells: number;
  maxGenes: number;
  /** Stored values: non-zeros of a sparse matrix, cells × genes of a dense one. */
  maxStoredValues: number;
  /** Longest accepted text line (MatrixMarket, gene lists, CSV fields): guards against binary garbage. */
  maxLineBytes: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = {
  maxCells: 2_000_000,
  maxGenes: 100_000,
  // 250 M values: 1 GB of float32 data + 1 GB of int32 indices, the most a worker should hold.
  maxStoredValues: 250_000_000,
  maxLineBytes: 1 << 20,
};

export function resolveLimits(limits: Partial<ReaderLimits> | undefined): ReaderLimits {
  return { ...DEFAULT_READER_LIMITS, ...limits };
}

/**
 * A file that cannot be read as a screen. `problems` lists each problem found (the UI shows them one per
 * line); `source` names the file or the part of the upload they concern. No reader leaves anything behind
 * when it throws this (temporary files are removed, HDF5 handles closed).
 */
export class ScreenInputError extends Error {
  readonly source: string;
  readonly problems: string[];

  constructor(source: string, problems: string | string[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(`${source}: ${list.join('; ')}`);
    this.name = 'ScreenInputError';
    this.source = source;
    this.problems = list;
  }
}

/**
 * AnnData's var_names_make_unique: the second 'A' becomes 'A-1', the third 'A-2', skipping names that
 * already exist.
 */
export function makeUnique(names: string[], notes: string[]): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) duplicates.add(name);
    seen.add(name);
  }
  if (duplicates.size === 0) return names;
  const counters = new Map<string, number>();
  const used = new Set<string>();
  const result = names.map((name, i) => {
    if (!duplicates.has(name) || names.indexOf(name) === i) {
      used.add(name);
      return name;
    }
    let counter = counters.get(name) ?? 0;
    let candidate: string;
    do {
      counter++;
      candidate = `${name}-${counter}`;
    } while (seen.has(candidate) || used.has(candidate));
    counters.set(name, counter);
    used.add(candidate);
    return candidate;
  });
  notes.push(
    `duplicate gene names made unique (${[...duplicates].slice(0, 5).join(', ')}${duplicates.size > 5 ? ', …' : ''})`,
  );
  return result;
}

/** A file given by path, or its bytes already in memory (e.g. an upload in a test). */
export type InputSource = string | Uint8Array;

export function describeSource(source: InputSource, fallback: string): string {
  return typeof source === 'string' ? source : fallback;
}

// ---------------------------------------------------------------------------------------------------
// Preprocessing output (server/perturbation/preprocess.ts)

/** One perturbation condition: a set of target genes (empty for control). */
export interface Environment {
  /** Canonical label: target genes sorted and joined by '+'; the control label for control. */
  key: string;
  kind: 'control' | 'single' | 'combination';
  /** Target genes, sorted; [] for control. */
  genes: string[];
  /** Each target's column in PreparedScreen.genes, or −1 when the gene is not measured. */
  geneIndices: number[];
  cellCount: number;
}

/** Cells kept and genes kept after one preprocessing step, with that step's particulars. */
export interface StepSummary {
  step: 'labels' | 'qc' | 'normalize' | 'log1p' | 'gene-selection' | 'environments' | 'split';
  cellsIn: number;
  cellsKept: number;
  genesIn: number;
  genesKept: number;
  details: Record<string, number | string | string[] | number[]>;
}

/** A screen ready for the engines: dense, selected genes, cells tagged with their environment. */
export interface PreparedScreen {
  /** log1p of normalised counts (or X as given for log-normalised input), cells × selected genes. */
  X: DenseMatrix;
  /** Raw counts of the same cells and genes when the input held counts (for the ZIP measurement model). */
  counts: DenseMatrix | null;
  /** Selected genes: the measured perturbed genes first (in the file's order), then the variable genes. */
  genes: string[];
  /** How many of `genes` (a prefix) are perturbed genes. */
  perturbedGeneCount: number;
  cells: string[];
  /** environments[0] is control; then singles, then combinations, each sorted by key. */
  environments: Environment[];
  /** environmentOfCell[i] indexes `environments`. */
  environmentOfCell: Int32Array;
  /** The library size every cell was scaled to (the median control library size), null for lognorm. */
  targetLibrarySize: number | null;
  /**
   * Each kept cell's library size (its counts summed over the genes kept by QC, before gene selection): the
   * denominator of its normalisation. Null for lognorm input.
   */
  librarySizes: Float64Array | null;
  summaries: StepSummary[];
  /** Train / test folds when the split was asked for (PreprocessOptions.split), else []. */
  folds: Fold[];
}

/** One train / test split of environments (indices into PreparedScreen.environments). */
export interface Fold {
  index: number;
  trainEnvironments: number[];
  testEnvironments: number[];
  /** Test candidates dropped because a gene of theirs is perturbed in no training environment. */
  dropped: { key: string; missingGenes: string[] }[];
}
