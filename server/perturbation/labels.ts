/**
 * Perturbation labels (DESIGN.md §5 "Labels"): per cell, the set of perturbed genes, read from a
 * configurable obs column. A configurable control label (or several: 'non-targeting', 'control', …)
 * marks control cells; combinations are joined by '+' ('A+B'), and by ',' or '_' when asked.
 *
 * Rules: components are trimmed; a control component inside a combination is dropped ('A+non-targeting'
 * is the single A, as guide assignment produces for a cell that also caught a non-targeting guide);
 * repeated genes count once ('A+A' is A); an empty label means the cell is unlabelled.
 */
import { ScreenInputError, type ObsColumn } from './types';

export type LabelSeparator = '+' | ',' | '_';

export interface LabelOptions {
  /** The obs column holding the labels. */
  column: string;
  /** The control label(s); the first is the control environment's key. */
  control: string | string[];
  /** How combinations are joined; default ['+']. */
  separators?: LabelSeparator[];
}

export interface CellPerturbations {
  /** Per cell: the sorted target genes ([] for control), or null for an unlabelled cell. */
  genesOfCell: (string[] | null)[];
  /** Per cell: the canonical key (genes joined by '+', the control key for control, '' if unlabelled). */
  keyOfCell: string[];
  controlKey: string;
  controlCells: number;
  unlabeledCells: number;
  /** Every gene that is perturbed in at least one cell, sorted. */
  perturbedGenes: string[];
}

/** The sorted target genes of one label ([] for control, null for an empty label). */
export function parsePerturbationLabel(
  label: string,
  controls: ReadonlySet<string>,
  separators: readonly LabelSeparator[] = ['+'],
): string[] | null {
  const trimmed = label.trim();
  if (trimmed === '') return null;
  if (controls.has(trimmed)) return [];
  let parts = [trimmed];
  for (const separator of separators) parts = parts.flatMap((part) => part.split(separator));
  const genes = new Set<string>();
  for (const part of parts) {
    const gene = part.trim();
    if (gene !== '' && !controls.has(gene)) genes.add(gene);
  }
  return [...genes].sort();
}

/** Parses the label column of every cell. Throws when the column is missing or no cell is a control. */
export function labelCells(obs: Record<string, ObsColumn>, options: LabelOptions): CellPerturbations {
  const source = `obs column '${options.column}'`;
  const column = obs[options.column];
  if (column === undefined) {
    throw new ScreenInputError(
      source,
      `missing: the cell table has ${Object.keys(obs).length ? Object.keys(obs).join(', ') : 'no columns'}`,
    );
  }
  if (column.length > 0 && typeof column[0] !== 'string') {
    throw new ScreenInputError(source, 'holds numbers, not perturbation labels');
  }
  const controlLabels = (Array.isArray(options.control) ? options.control : [options.control]).map((c) =>
    c.trim(),
  );
  if (controlLabels.length === 0 || controlLabels.some((c) => c === '')) {
    throw new ScreenInputError(source, 'the control label must be a non-empty string');
  }
  const controls = new Set(controlLabels);
  const controlKey = controlLabels[0];
  const separators = options.separators ?? ['+'];
  const genesOfCell: (string[] | null)[] = [];
  const keyOfCell: string[] = [];
  const perturbed = new Set<string>();
  let controlCells = 0;
  let unlabeledCells = 0;
  for (const label of column as string[]) {
    const genes = parsePerturbationLabel(label, controls, separators);
    genesOfCell.push(genes);
    if (genes === null) {
      unlabeledCells++;
      keyOfCell.push('');
    } else if (genes.length === 0) {
      controlCells++;
      keyOfCell.push(controlKey);
    } else {
      genes.forEach((gene) => perturbed.add(gene));
      keyOfCell.push(genes.join('+'));
    }
  }
  if (controlCells === 0) {
    throw new ScreenInputError(
      source,
      `no cell carries the control label ${controlLabels.map((c) => `'${c}'`).join(' or ')}; most common labels: ${mostCommon(column as string[], 8)}`,
    );
  }
  if (perturbed.has(controlKey)) {
    throw new ScreenInputError(source, `the control label '${controlKey}' also appears as a gene`);
  }
  return {
    genesOfCell,
    keyOfCell,
    controlKey,
    controlCells,
    unlabeledCells,
    perturbedGenes: [...perturbed].sort(),
  };
}

function mostCommon(values: string[], count: number): string {
  const tally = new Map<string, number>();
  for (const value of values) tally.set(value, (tally.get(value) ?? 0) + 1);
  return [...tally.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([value, n]) => `'${value}' (${n})`)
    .join(', ');
}
