/**
 * Perturbation labels: separators, control labels (also inside combinations), repeated genes, empty
 * labels, and the errors for a missing or numeric column and for a screen without control cells.
 */
import { describe, expect, it } from 'vitest';
import { labelCells, parsePerturbationLabel } from '../../server/perturbation/labels';
import { ScreenInputError } from '../../server/perturbation/types';

const controls = new Set(['non-targeting']);

describe('parsePerturbationLabel', () => {
  it.each([
    ['A', ['A']],
    ['A+B', ['A', 'B']],
    [' B + A ', ['A', 'B']],
    ['A+A', ['A']],
    ['A++B+', ['A', 'B']],
    ['non-targeting', []],
    ['non-targeting+non-targeting', []],
    ['A+non-targeting', ['A']],
    ['A,B', ['A,B']],
    ['', null],
    ['   ', null],
  ] as [string, string[] | null][])('%j → %j with the default separator +', (label, genes) => {
    expect(parsePerturbationLabel(label, controls)).toEqual(genes);
  });

  it('splits on , and _ when asked', () => {
    expect(parsePerturbationLabel('B,A', controls, [','])).toEqual(['A', 'B']);
    expect(parsePerturbationLabel('A_B+C', controls, ['+', '_'])).toEqual(['A', 'B', 'C']);
    // A whole label equal to a control stays control even when it contains a separator.
    expect(parsePerturbationLabel('non_targeting', new Set(['non_targeting']), ['_'])).toEqual([]);
  });
});

describe('labelCells', () => {
  const obs = { guide: ['ctrl', 'A', 'B+A', '', 'NT', 'C+ctrl'], n: [1, 2, 3, 4, 5, 6] };

  it('gives each cell its gene set and canonical key; several control labels share the first as key', () => {
    const labels = labelCells(obs, { column: 'guide', control: ['ctrl', 'NT'] });
    expect(labels.genesOfCell).toEqual([[], ['A'], ['A', 'B'], null, [], ['C']]);
    expect(labels.keyOfCell).toEqual(['ctrl', 'A', 'A+B', '', 'ctrl', 'C']);
    expect(labels.controlKey).toBe('ctrl');
    expect(labels.controlCells).toBe(2);
    expect(labels.unlabeledCells).toBe(1);
    expect(labels.perturbedGenes).toEqual(['A', 'B', 'C']);
  });

  it('names the columns there are when the label column is missing', () => {
    expect(() => labelCells(obs, { column: 'target', control: 'ctrl' })).toThrow(
      /obs column 'target': missing: the cell table has guide, n/,
    );
  });

  it('rejects a numeric column and a screen without control cells, listing the common labels', () => {
    expect(() => labelCells(obs, { column: 'n', control: 'ctrl' })).toThrow(
      /holds numbers, not perturbation labels/,
    );
    let error: unknown;
    try {
      labelCells(obs, { column: 'guide', control: 'control' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ScreenInputError);
    expect((error as ScreenInputError).message).toMatch(
      /no cell carries the control label 'control'; most common labels: 'ctrl' \(1\)/,
    );
  });
});
