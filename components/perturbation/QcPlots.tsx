'use client';
/**
 * Preprocessing QC (issue 5, items 2 and 7): cells and genes kept after each step (labels, cell QC,
 * normalisation, log1p, gene selection, environments, split), as grouped bars on two axes.
 */
import { useMemo } from 'react';
import { Plot } from '../Plot';

export interface PreprocessingStep {
  step: string;
  cells_in: number;
  cells_kept: number;
  genes_in: number;
  genes_kept: number;
}

export function QcPlots({ steps }: { steps: PreprocessingStep[] }) {
  const data = useMemo(
    () => [
      {
        type: 'bar',
        name: 'cells kept',
        x: steps.map((s) => s.step),
        y: steps.map((s) => s.cells_kept),
        customdata: steps.map((s) => s.cells_in),
        hovertemplate: '%{x}: %{y} of %{customdata} cells<extra></extra>',
        marker: { color: '#2563eb' },
        offsetgroup: 'cells',
        yaxis: 'y',
      },
      {
        type: 'bar',
        name: 'genes kept',
        x: steps.map((s) => s.step),
        y: steps.map((s) => s.genes_kept),
        customdata: steps.map((s) => s.genes_in),
        hovertemplate: '%{x}: %{y} of %{customdata} genes<extra></extra>',
        marker: { color: '#d97706' },
        offsetgroup: 'genes',
        yaxis: 'y2',
      },
    ],
    [steps],
  );
  const layout = useMemo(
    () => ({
      barmode: 'group',
      margin: { t: 10, r: 60, b: 60, l: 60 },
      legend: { orientation: 'h', y: 1.12 },
      yaxis: { title: { text: 'cells' }, rangemode: 'tozero' },
      yaxis2: { title: { text: 'genes' }, overlaying: 'y', side: 'right', rangemode: 'tozero' },
    }),
    [],
  );
  return (
    <div data-testid="perturbation-qc">
      <Plot label="cells and genes kept per preprocessing step" data={data} layout={layout} />
    </div>
  );
}
