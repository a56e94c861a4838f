/**
 * Sparse-matrix plumbing shared by the readers and preprocessing: building canonical CSR (cells × genes)
 * from coordinates, from CSC or from a dense block, and the row / column reductions preprocessing needs.
 * "Canonical" means what CsrMatrix promises: column indices strictly increasing within each row, duplicate
 * coordinates summed (scipy's convention, so a file reads the same here as through scipy / AnnData).
 */
import type { CsrMatrix, DenseMatrix, ExpressionMatrix } from './types';

/**
 * CSR from coordinate triplets (row, col, value), any order, duplicates summed. Two stable counting
 * sorts (by column, then by row) order the entries in O(nnz + rows + cols) without comparisons.
 */
export function csrFromCoordinates(
  rows: number,
  cols: number,
  rowOf: Int32Array,
  colOf: Int32Array,
  valueOf: Float32Array,
  count: number = rowOf.length,
): CsrMatrix {
  // Pass 1: stable order by column.
  const colStart = new Int32Array(cols + 1);
  for (let k = 0; k < count; k++) colStart[colOf[k] + 1]++;
  for (let c = 0; c < cols; c++) colStart[c + 1] += colStart[c];
  const byColumn = new Int32Array(count);
  const colCursor = colStart.slice(0, cols);
  for (let k = 0; k < count; k++) byColumn[colCursor[colOf[k]]++] = k;

  // Pass 2: stable order by row, visiting entries in column order, so each row comes out column-sorted.
  const indptr = new Int32Array(rows + 1);
  for (let k = 0; k < count; k++) indptr[rowOf[k] + 1]++;
  for (let r = 0; r < rows; r++) indptr[r + 1] += indptr[r];
  const indices = new Int32Array(count);
  const data = new Float32Array(count);
  const rowCursor = indptr.slice(0, rows);
  for (let n = 0; n < count; n++) {
    const k = byColumn[n];
    const at = rowCursor[rowOf[k]]++;
    indices[at] = colOf[k];
    data[at] = valueOf[k];
  }
  return mergeSortedDuplicates({ format: 'csr', rows, cols, indptr, indices, data });
}

/**
 * CSR from a compressed-sparse-column matrix of the same shape (rows × cols; colPtr has cols + 1
 * entries, rowIndex the row of each stored entry). Visiting columns in order leaves each row sorted.
 */
export function csrFromCsc(
  rows: number,
  cols: number,
  colPtr: Int32Array,
  rowIndex: Int32Array,
  values: Float32Array,
): CsrMatrix {
  const nnz = colPtr[cols];
  const indptr = new Int32Array(rows + 1);
  for (let k = 0; k < nnz; k++) indptr[rowIndex[k] + 1]++;
  for (let r = 0; r < rows; r++) indptr[r + 1] += indptr[r];
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  const cursor = indptr.slice(0, rows);
  for (let c = 0; c < cols; c++) {
    for (let k = colPtr[c]; k < colPtr[c + 1]; k++) {
      const at = cursor[rowIndex[k]]++;
      indices[at] = c;
      data[at] = values[k];
    }
  }
  return mergeSortedDuplicates({ format: 'csr', rows, cols, indptr, indices, data });
}

/**
 * Puts a CSR matrix whose rows may be unsorted or hold duplicates into canonical form. Rows already
 * strictly increasing (the usual case: scipy writes sorted indices) are left untouched.
 */
export function canonicalCsr(matrix: CsrMatrix): CsrMatrix {
  const { indptr } = matrix;
  let sorted = true;
  for (let r = 0; r < matrix.rows && sorted; r++) {
    for (let k = indptr[r] + 1; k < indptr[r + 1]; k++) {
      if (matrix.indices[k] <= matrix.indices[k - 1]) {
        sorted = false;
        break;
      }
    }
  }
  if (sorted) return matrix;
  // Sort copies: the caller's arrays stay as they were.
  const indices = matrix.indices.slice();
  const data = matrix.data.slice();
  for (let r = 0; r < matrix.rows; r++) {
    const start = indptr[r];
    const end = indptr[r + 1];
    if (end - start <= 32) {
      // Insertion sort of the (index, value) pairs for short rows.
      for (let k = start + 1; k < end; k++) {
        const index = indices[k];
        const value = data[k];
        let j = k - 1;
        while (j >= start && indices[j] > index) {
          indices[j + 1] = indices[j];
          data[j + 1] = data[j];
          j--;
        }
        indices[j + 1] = index;
        data[j + 1] = value;
      }
    } else {
      // Long rows: sort a permutation (O(n log n); insertion sort is quadratic on a reversed row).
      const rowIndices = indices.slice(start, end);
      const rowData = data.slice(start, end);
      const order = Int32Array.from({ length: end - start }, (_, k) => k).sort(
        (a, b) => rowIndices[a] - rowIndices[b] || a - b,
      );
      for (let k = 0; k < order.length; k++) {
        indices[start + k] = rowIndices[order[k]];
        data[start + k] = rowData[order[k]];
      }
    }
  }
  return mergeSortedDuplicates({ ...matrix, indices, data });
}

/** Sums runs of equal column indices inside each (sorted) row; returns the input when there are none. */
function mergeSortedDuplicates(matrix: CsrMatrix): CsrMatrix {
  const { rows, indptr, indices, data } = matrix;
  let duplicates = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = indptr[r] + 1; k < indptr[r + 1]; k++) if (indices[k] === indices[k - 1]) duplicates++;
  }
  if (duplicates === 0) return matrix;
  const nnz = indptr[rows] - duplicates;
  const newIndptr = new Int32Array(rows + 1);
  const newIndices = new Int32Array(nnz);
  const newData = new Float32Array(nnz);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = indptr[r]; k < indptr[r + 1]; k++) {
      if (k > indptr[r] && indices[k] === indices[k - 1]) {
        newData[at - 1] += data[k];
      } else {
        newIndices[at] = indices[k];
        newData[at] = data[k];
        at++;
      }
    }
    newIndptr[r + 1] = at;
  }
  return { format: 'csr', rows, cols: matrix.cols, indptr: newIndptr, indices: newIndices, data: newData };
}

/** CSR of a dense matrix, zeros dropped. */
export function csrFromDense(matrix: DenseMatrix): CsrMatrix {
  const { rows, cols, values } = matrix;
  let nnz = 0;
  for (let k = 0; k < values.length; k++) if (values[k] !== 0) nnz++;
  const indptr = new Int32Array(rows + 1);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  let at = 0;
  for (let r = 0; r < rows; r++) {
    const offset = r * cols;
    for (let c = 0; c < cols; c++) {
      const value = values[offset + c];
      if (value !== 0) {
        indices[at] = c;
        data[at] = value;
        at++;
      }
    }
    indptr[r + 1] = at;
  }
  return { format: 'csr', rows, cols, indptr, indices, data };
}

export function toCsr(matrix: ExpressionMatrix): CsrMatrix {
  return matrix.format === 'csr' ? matrix : csrFromDense(matrix);
}

/** Dense rows × selected columns of a CSR matrix: the column `selectedColumns[j]` becomes column j. */
export function denseFromCsr(
  matrix: CsrMatrix,
  selectedRows: ArrayLike<number>,
  selectedColumns: ArrayLike<number>,
): DenseMatrix {
  const outputColumnOf = new Int32Array(matrix.cols).fill(-1);
  for (let j = 0; j < selectedColumns.length; j++) outputColumnOf[selectedColumns[j]] = j;
  const cols = selectedColumns.length;
  const values = new Float32Array(selectedRows.length * cols);
  for (let i = 0; i < selectedRows.length; i++) {
    const r = selectedRows[i];
    for (let k = matrix.indptr[r]; k < matrix.indptr[r + 1]; k++) {
      const j = outputColumnOf[matrix.indices[k]];
      if (j >= 0) values[i * cols + j] = matrix.data[k];
    }
  }
  return { format: 'dense', rows: selectedRows.length, cols, values };
}

/** The CSR submatrix of the given rows (in that order) and all columns. */
export function selectCsrRows(matrix: CsrMatrix, selectedRows: ArrayLike<number>): CsrMatrix {
  let nnz = 0;
  for (let i = 0; i < selectedRows.length; i++) {
    const r = selectedRows[i];
    nnz += matrix.indptr[r + 1] - matrix.indptr[r];
  }
  const indptr = new Int32Array(selectedRows.length + 1);
  const indices = new Int32Array(nnz);
  const data = new Float32Array(nnz);
  let at = 0;
  for (let i = 0; i < selectedRows.length; i++) {
    const r = selectedRows[i];
    const start = matrix.indptr[r];
    const end = matrix.indptr[r + 1];
    indices.set(matrix.indices.subarray(start, end), at);
    data.set(matrix.data.subarray(start, end), at);
    at += end - start;
    indptr[i + 1] = at;
  }
  return { format: 'csr', rows: selectedRows.length, cols: matrix.cols, indptr, indices, data };
}

/** The CSR submatrix of all rows and the given columns (renumbered in the order given). */
export function selectCsrColumns(matrix: CsrMatrix, selectedColumns: ArrayLike<number>): CsrMatrix {
  const outputColumnOf = new Int32Array(matrix.cols).fill(-1);
  for (let j = 0; j < selectedColumns.length; j++) outputColumnOf[selectedColumns[j]] = j;
  let kept = 0;
  for (let k = 0; k < matrix.indptr[matrix.rows]; k++) if (outputColumnOf[matrix.indices[k]] >= 0) kept++;
  const rowOf = new Int32Array(kept);
  const colOf = new Int32Array(kept);
  const valueOf = new Float32Array(kept);
  let at = 0;
  for (let r = 0; r < matrix.rows; r++) {
    for (let k = matrix.indptr[r]; k < matrix.indptr[r + 1]; k++) {
      const j = outputColumnOf[matrix.indices[k]];
      if (j < 0) continue;
      rowOf[at] = r;
      colOf[at] = j;
      valueOf[at] = matrix.data[k];
      at++;
    }
  }
  return csrFromCoordinates(matrix.rows, selectedColumns.length, rowOf, colOf, valueOf);
}

/** Value of (row, col) in any ExpressionMatrix (binary search in a CSR row). For tests and spot checks. */
export function matrixValue(matrix: ExpressionMatrix, row: number, col: number): number {
  if (matrix.format === 'dense') return matrix.values[row * matrix.cols + col];
  let low = matrix.indptr[row];
  let high = matrix.indptr[row + 1] - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const index = matrix.indices[mid];
    if (index === col) return matrix.data[mid];
    if (index < col) low = mid + 1;
    else high = mid - 1;
  }
  return 0;
}

/** The full matrix as row-major float32 values (for tests and small matrices). */
export function toDenseValues(matrix: ExpressionMatrix): Float32Array {
  if (matrix.format === 'dense') return matrix.values;
  const all = Array.from({ length: matrix.rows }, (_, i) => i);
  const columns = Array.from({ length: matrix.cols }, (_, j) => j);
  return denseFromCsr(matrix, all, columns).values;
}
