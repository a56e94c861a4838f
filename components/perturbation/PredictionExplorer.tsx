'use client';
/**
 * The prediction explorer (issue 5, item 7): for a held-out condition (a combination, or a single knockout
 * left out) and one of its genes (its top-20 DE genes and its perturbed genes), LCD's predicted cells next
 * to the observed and the control cells — overlaid histograms or violins, means marked — and, over all of
 * the condition's kept genes, the predicted mean shift against the observed one.
 */
import { useMemo, useState } from 'react';
import { Plot } from '../Plot';
import { Card, Field, Select } from '../ui';

/** The `perturbationDistributions` artifact, one entry per held-out condition (server/perturbation/fit.ts). */
export interface ConditionDistributions {
  condition: string;
  kind?: 'combination' | 'single';
  genes: string[];
  /** predicted[g][c]: gene `genes[g]` in predicted cell c (likewise observed and control). */
  predicted: number[][];
  observed: number[][];
  control: number[][];
}

const SERIES = [
  { key: 'predicted', name: 'predicted (LCD)', color: '#7c3aed' },
  { key: 'observed', name: 'observed', color: '#059669' },
  { key: 'control', name: 'control', color: '#64748b' },
] as const;

const meanOf = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;

export function PredictionExplorer({ distributions }: { distributions: ConditionDistributions[] }) {
  const [conditionIndex, setConditionIndex] = useState(0);
  const [geneName, setGeneName] = useState<string | null>(null);
  const [view, setView] = useState<'histogram' | 'violin'>('histogram');
  const entry = distributions[Math.min(conditionIndex, distributions.length - 1)];
  // The gene picked stays when it exists in the new condition; otherwise the condition's first (top DE) gene.
  const geneIndex = Math.max(0, geneName === null ? 0 : entry.genes.indexOf(geneName));
  const gene = entry.genes[geneIndex];

  const means = useMemo(
    () =>
      Object.fromEntries(SERIES.map(({ key }) => [key, meanOf(entry[key][geneIndex] ?? [])])) as Record<
        (typeof SERIES)[number]['key'],
        number
      >,
    [entry, geneIndex],
  );

  const distributionPlot = useMemo(() => {
    if (view === 'violin') {
      return {
        data: SERIES.map(({ key, name, color }) => ({
          type: 'violin',
          name,
          y: entry[key][geneIndex] ?? [],
          line: { color },
          box: { visible: true },
          meanline: { visible: true },
          points: false,
        })),
        layout: {
          showlegend: false,
          margin: { t: 10, r: 10, b: 40, l: 50 },
          yaxis: { title: { text: gene } },
        },
      };
    }
    return {
      data: SERIES.map(({ key, name, color }) => ({
        type: 'histogram',
        name,
        x: entry[key][geneIndex] ?? [],
        opacity: 0.5,
        histnorm: 'probability density',
        nbinsx: 40,
        marker: { color },
      })),
      layout: {
        barmode: 'overlay',
        margin: { t: 10, r: 10, b: 40, l: 50 },
        xaxis: { title: { text: gene } },
        yaxis: { title: { text: 'density' } },
        legend: { orientation: 'h', y: 1.12 },
        // The means as dashed vertical lines, one per series.
        shapes: SERIES.flatMap(({ key, color }) =>
          Number.isFinite(means[key])
            ? [
                {
                  type: 'line',
                  xref: 'x',
                  yref: 'paper',
                  x0: means[key],
                  x1: means[key],
                  y0: 0,
                  y1: 1,
                  line: { color, width: 2, dash: 'dash' },
                },
              ]
            : [],
        ),
      },
    };
  }, [entry, geneIndex, gene, view, means]);

  const shiftPlot = useMemo(() => {
    const shifts = entry.genes.map((_, g) => {
      const control = meanOf(entry.control[g] ?? []);
      return {
        observed: meanOf(entry.observed[g] ?? []) - control,
        predicted: meanOf(entry.predicted[g] ?? []) - control,
      };
    });
    const extent = shifts.reduce(
      (max, s) => Math.max(max, Math.abs(s.observed) || 0, Math.abs(s.predicted) || 0),
      1e-6,
    );
    return {
      data: [
        {
          type: 'scatter',
          mode: 'lines',
          x: [-extent, extent],
          y: [-extent, extent],
          line: { color: '#cbd5e1', dash: 'dot' },
          hoverinfo: 'skip',
          showlegend: false,
        },
        {
          type: 'scatter',
          mode: 'markers',
          x: shifts.map((s) => s.observed),
          y: shifts.map((s) => s.predicted),
          text: entry.genes,
          hovertemplate: '%{text}<br>observed %{x:.3f}<br>predicted %{y:.3f}<extra></extra>',
          marker: {
            size: entry.genes.map((_, g) => (g === geneIndex ? 12 : 7)),
            color: entry.genes.map((_, g) => (g === geneIndex ? '#7c3aed' : '#94a3b8')),
          },
          showlegend: false,
        },
      ],
      layout: {
        margin: { t: 10, r: 10, b: 40, l: 50 },
        xaxis: { title: { text: 'observed mean shift vs control' }, zeroline: true },
        yaxis: { title: { text: 'predicted mean shift vs control' }, zeroline: true },
      },
    };
  }, [entry, geneIndex]);

  return (
    <Card title="Prediction explorer: held-out conditions">
      <div data-testid="perturbation-explorer">
        <p className="mb-3 text-sm text-slate-600">
          Cells LCD predicted for a condition it never saw, next to the observed and the control cells (up to
          300 of each), for the condition&apos;s 20 most differentially expressed genes and its perturbed
          genes. Dashed lines mark the means.
        </p>
        <div className="mb-3 flex flex-wrap items-end gap-3">
          <Field label="Condition">
            <Select
              value={String(conditionIndex)}
              onChange={(event) => setConditionIndex(Number(event.target.value))}
              data-testid="perturbation-explorer-condition"
            >
              {distributions.map((d, i) => (
                <option key={`${d.kind ?? ''}:${d.condition}`} value={i}>
                  {d.condition}
                  {d.kind === 'single'
                    ? ' (left out)'
                    : d.kind === 'combination'
                      ? ' (held-out combination)'
                      : ''}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Gene">
            <Select
              value={gene}
              onChange={(event) => setGeneName(event.target.value)}
              data-testid="perturbation-explorer-gene"
            >
              {entry.genes.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="View">
            <Select value={view} onChange={(event) => setView(event.target.value as typeof view)}>
              <option value="histogram">histograms</option>
              <option value="violin">violins</option>
            </Select>
          </Field>
          <dl className="flex gap-4 text-sm" data-testid="perturbation-explorer-means">
            {SERIES.map(({ key, color }) => (
              <div key={key}>
                <dt className="text-slate-500">mean {key}</dt>
                <dd className="tabular-nums" style={{ color }}>
                  {Number.isFinite(means[key]) ? means[key].toFixed(3) : '–'}
                </dd>
              </div>
            ))}
          </dl>
        </div>
        <div className="grid gap-6 md:grid-cols-2">
          <div data-testid="perturbation-explorer-plot">
            <Plot
              label={`predicted vs observed vs control: ${entry.condition}, ${gene}`}
              data={distributionPlot.data}
              layout={distributionPlot.layout}
            />
          </div>
          <Plot
            label={`mean shifts, predicted vs observed: ${entry.condition}`}
            data={shiftPlot.data}
            layout={shiftPlot.layout}
          />
        </div>
      </div>
    </Card>
  );
}
