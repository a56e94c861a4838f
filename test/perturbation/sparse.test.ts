/**
 * CSR plumbing: canonical form from coordinates, CSC and unsorted CSR (duplicates summed, scipy's
 * convention), without touching the caller's arrays; row / column selection and densifying.
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalCsr,
  csrFromCoordinates,
  csrFromCsc,
  csrFromDense,
  denseFromCsr,
  matrixValue,
  selectCsrColumns,
  selectCsrRows,
  toDenseValues,
} from '../../server/perturbation/sparse';
import type { CsrMatrix } from '../../server/perturbation/types';

// 3 × 4:
//   [1 0 2 0]
//   [0 0 0 0]
//   [3 4 0 5]
const DENSE = [1, 0, 2, 0, 0, 0, 0, 0, 3, 4, 0, 5];

describe('canonical CSR', () => {
  it('from coordinates in any order, duplicates summed', () => {
    const matrix = csrFromCoordinates(
      3,
      4,
      Int32Array.from([2, 0, 2, 2, 0, 2]),
      Int32Array.from([3, 2, 0, 1, 0, 1]),
      Float32Array.from([5, 2, 3, 1, 1, 3]),
    );
    expect(Array.from(matrix.indptr)).toEqual([0, 2, 2, 5]);
    expect(Array.from(matrix.indices)).toEqual([0, 2, 0, 1, 3]);
    expect(Array.from(toDenseValues(matrix))).toEqual(DENSE);
  });

  it('from CSC', () => {
    // Columns of DENSE: c0 rows 0, 2; c1 row 2; c2 row 0; c3 row 2.
    const matrix = csrFromCsc(
      3,
      4,
      Int32Array.from([0, 2, 3, 4, 5]),
      Int32Array.from([0, 2, 2, 0, 2]),
      Float32Array.from([1, 3, 4, 2, 5]),
    );
    expect(Array.from(toDenseValues(matrix))).toEqual(DENSE);
    expect(Array.from(matrix.indices)).toEqual([0, 2, 0, 1, 3]);
  });

  it('sorts unsorted rows (short and long) and sums duplicates, leaving the input untouched', () => {
    const unsorted: CsrMatrix = {
      format: 'csr',
      rows: 3,
      cols: 4,
      indptr: Int32Array.from([0, 2, 2, 6]),
      indices: Int32Array.from([2, 0, 3, 1, 0, 1]),
      data: Float32Array.from([2, 1, 5, 1, 3, 3]),
    };
    const canonical = canonicalCsr(unsorted);
    expect(Array.from(toDenseValues(canonical))).toEqual(DENSE);
    expect(Array.from(canonical.indices)).toEqual([0, 2, 0, 1, 3]);
    expect(Array.from(unsorted.indices)).toEqual([2, 0, 3, 1, 0, 1]);

    const width = 1000;
    const reversed: CsrMatrix = {
      format: 'csr',
      rows: 1,
      cols: width,
      indptr: Int32Array.from([0, width]),
      indices: Int32Array.from({ length: width }, (_, k) => width - 1 - k),
      data: Float32Array.from({ length: width }, (_, k) => width - 1 - k),
    };
    const sorted = canonicalCsr(reversed);
    expect(Array.from(sorted.indices)).toEqual(Array.from({ length: width }, (_, k) => k));
    expect(Array.from(sorted.data)).toEqual(Array.from({ length: width }, (_, k) => k));
  });
});

describe('selection', () => {
  const matrix = csrFromDense({ format: 'dense', rows: 3, cols: 4, values: Float32Array.from(DENSE) });

  it('rows, columns (reordered) and dense blocks', () => {
    expect(Array.from(toDenseValues(selectCsrRows(matrix, [2, 0])))).toEqual([3, 4, 0, 5, 1, 0, 2, 0]);
    const columns = selectCsrColumns(matrix, [3, 0]);
    expect(Array.from(toDenseValues(columns))).toEqual([0, 1, 0, 0, 5, 3]);
    expect(Array.from(columns.indices)).toEqual([1, 0, 1]);
    expect(denseFromCsr(matrix, [2], [1, 3])).toEqual({
      format: 'dense',
      rows: 1,
      cols: 2,
      values: Float32Array.from([4, 5]),
    });
    expect(matrixValue(matrix, 2, 3)).toBe(5);
    expect(matrixValue(matrix, 1, 3)).toBe(0);
  });
});
