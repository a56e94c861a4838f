'use client';
/**
 * A perturbation run's results: held-out metrics against the baselines, the prediction explorer, the causal
 * matrix as a heatmap (optionally ordered by gene module) and as a network of its strongest edges,
 * preprocessing QC, loss curves, and CSV downloads (signed-in views only).
 */
import { useMemo, useState } from 'react';
import { Plot } from '../Plot';
import { Card } from '../ui';
import { CausalNetwork, type CausalModules } from './CausalNetwork';
import { PredictionExplorer, type ConditionDistributions } from './PredictionExplorer';
import { QcPlots, type PreprocessingStep } from './QcPlots';

export type { ConditionDistributions } from './PredictionExplorer';

type MetricRow = Record<'rmse_mean' | 'pearson_shift' | 'energy_distance' | 'mmd', number | null>;
type Scored = Record<'lcd' | 'control' | 'additive', { all: MetricRow; top_de: MetricRow }>;
type ScoredSingle = Record<'lcd' | 'control' | 'mean_single_shift', { all: MetricRow; top_de: MetricRow }>;

export interface PerturbationArtifact {
  summary: {
    cells: number;
    genes: number;
    held_out: string[];
    metrics: {
      per_combination: (Scored & { perturbation: string })[];
      mean: Scored | null;
      /** Absent in runs stored before leave-one-out existed. */
      held_out_singles?: { per_gene: (ScoredSingle & { perturbation: string })[]; mean: ScoredSingle | null };
    };
    /** Cells and genes kept per preprocessing step (absent in older runs). */
    preprocessing?: PreprocessingStep[];
    training: {
      prediction_model: { loss_curve: { step: number; loss: number }[] };
      clipr_model: { loss_curve: { step: number; loss: number }[] };
    };
  };
  /** `modules`: gene modules of the matrix (absent in runs stored before they were computed). */
  causal: { genes: string[]; effects: number[][]; modules?: CausalModules };
}

const metricNames = ['rmse_mean', 'pearson_shift', 'energy_distance', 'mmd'] as const;
const format = (value: number | null) => (value === null ? '–' : value.toFixed(4));

/**
 * `distributions`: the run's `perturbationDistributions` artifact (absent in older runs); `downloadBase`:
 * where the CSV downloads live (`/api/runs/:id/perturbation`; absent on share links).
 */
export function PerturbationPlots({
  artifact,
  distributions,
  downloadBase,
}: {
  artifact: PerturbationArtifact;
  distributions?: ConditionDistributions[];
  downloadBase?: string;
}) {
  const { summary, causal } = artifact;
  const mean = summary.metrics.mean;
  const singles = summary.metrics.held_out_singles;
  const download = (file: string, label: string) =>
    downloadBase ? (
      <a
        href={`${downloadBase}/${file}`}
        download
        className="text-sm font-medium text-brand-700 hover:underline"
        data-testid={`perturbation-download-${file.replace('.csv', '')}`}
      >
        {label}
      </a>
    ) : undefined;
  const lossData = useMemo(
    () => [
      {
        type: 'scatter',
        mode: 'lines',
        name: 'prediction model',
        x: summary.training.prediction_model.loss_curve.map((p) => p.step),
        y: summary.training.prediction_model.loss_curve.map((p) => p.loss),
      },
      {
        type: 'scatter',
        mode: 'lines',
        name: 'CLIPR model',
        x: summary.training.clipr_model.loss_curve.map((p) => p.step),
        y: summary.training.clipr_model.loss_curve.map((p) => p.loss),
      },
    ],
    [summary],
  );
  return (
    <>
      <Card
        title={`Held-out combinations (${summary.held_out.length})`}
        actions={download('metrics.csv', 'Download metrics (CSV)')}
      >
        {mean ? (
          <table className="w-full text-sm" data-testid="perturbation-metrics">
            <thead>
              <tr className="text-left text-slate-500">
                <th>Predictor (all genes)</th>
                {metricNames.map((name) => (
                  <th key={name}>{name}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {(['lcd', 'additive', 'control'] as const).map((predictor) => (
                <tr key={predictor} className="border-t border-slate-100">
                  <td>{predictor === 'lcd' ? 'LCD' : `${predictor} baseline`}</td>
                  {metricNames.map((name) => (
                    <td key={name}>{format(mean[predictor].all[name])}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="text-sm text-slate-500">The screen has no combinations to hold out.</p>
        )}
      </Card>
      {singles && singles.per_gene.length > 0 && (
        <Card title={`Held-out single knockouts, leave-one-out (${singles.per_gene.length})`}>
          <p className="mb-2 text-sm text-slate-600">
            Each gene's model never saw a cell perturbing it (LCD gives it the mean embedding). Energy
            distance (all genes; lower is better) of the predicted cells to the observed ones, next to the
            control cells and control plus the mean shift of the training knockouts.
          </p>
          <table className="w-full text-sm" data-testid="perturbation-loo-metrics">
            <thead>
              <tr className="text-left text-slate-500">
                <th>Left out</th>
                <th>LCD</th>
                <th>mean-shift baseline</th>
                <th>control baseline</th>
                <th>RMSE of mean (LCD / mean shift)</th>
              </tr>
            </thead>
            <tbody>
              {[
                ...singles.per_gene,
                ...(singles.mean ? [{ ...singles.mean, perturbation: 'mean' }] : []),
              ].map((row) => (
                <tr key={row.perturbation} className="border-t border-slate-100">
                  <td>{row.perturbation}</td>
                  <td>{format(row.lcd.all.energy_distance)}</td>
                  <td>{format(row.mean_single_shift.all.energy_distance)}</td>
                  <td>{format(row.control.all.energy_distance)}</td>
                  <td>
                    {format(row.lcd.all.rmse_mean)} / {format(row.mean_single_shift.all.rmse_mean)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      )}
      {distributions && distributions.length > 0 && <PredictionExplorer distributions={distributions} />}
      <div className="grid gap-6 md:grid-cols-2">
        <Card
          title="Causal matrix (CLIPR): effect of row gene on column gene"
          actions={download('causal.csv', 'Download matrix (CSV)')}
        >
          <CausalHeatmap causal={causal} />
        </Card>
        <Card title="Causal network: strongest direct effects">
          <CausalNetwork genes={causal.genes} effects={causal.effects} modules={causal.modules} />
        </Card>
      </div>
      <div className="grid gap-6 md:grid-cols-2">
        {summary.preprocessing && summary.preprocessing.length > 0 && (
          <Card title="Preprocessing: cells and genes kept per step">
            <QcPlots steps={summary.preprocessing} />
          </Card>
        )}
        <Card title="Training loss">
          <Plot
            label="LCD training loss curves"
            data={lossData}
            layout={{ margin: { t: 10, r: 10, b: 40, l: 50 }, yaxis: { type: 'log' } }}
          />
        </Card>
      </div>
    </>
  );
}

/** The matrix as a heatmap; with modules, optionally reordered so each module is a block on the diagonal. */
function CausalHeatmap({ causal }: { causal: PerturbationArtifact['causal'] }) {
  const modules = causal.modules;
  const [byModule, setByModule] = useState(false);
  const plot = useMemo(() => {
    const d = causal.genes.length;
    const order = Array.from({ length: d }, (_, i) => i);
    if (byModule && modules)
      order.sort((a, b) => (modules.assignment[a] ?? 0) - (modules.assignment[b] ?? 0) || a - b);
    const genes = order.map((i) => causal.genes[i]);
    const z = order.map((i) => order.map((j) => causal.effects[i][j]));
    // A reduce, not Math.max(...values): a 300-gene matrix is 90,000 numbers, past the engine's argument limit.
    const largest = causal.effects.reduce(
      (max, row) => row.reduce((m, v) => Math.max(m, Math.abs(v)), max),
      1e-12,
    );
    // Outlines of the modules (two genes or more) as blocks on the diagonal, in category coordinates.
    const shapes: Record<string, unknown>[] = [];
    if (byModule && modules) {
      let start = 0;
      for (let k = 1; k <= d; k++) {
        const module = modules.assignment[order[start]];
        if (k === d || modules.assignment[order[k]] !== module) {
          if (k - start > 1)
            shapes.push({
              type: 'rect',
              xref: 'x',
              yref: 'y',
              x0: start - 0.5,
              x1: k - 0.5,
              y0: start - 0.5,
              y1: k - 0.5,
              line: { color: '#0f172a', width: 1.5 },
            });
          start = k;
        }
      }
    }
    return {
      data: [
        {
          type: 'heatmap',
          z,
          x: genes,
          y: genes,
          zmin: -largest,
          zmax: largest,
          colorscale: 'RdBu',
          reversescale: true,
          hovertemplate: '%{y} → %{x}: %{z:.4f}<extra></extra>',
        },
      ],
      layout: {
        margin: { t: 10, r: 10, b: 60, l: 60 },
        yaxis: { autorange: 'reversed' },
        shapes,
      },
    };
  }, [causal, modules, byModule]);
  return (
    <div data-testid="perturbation-heatmap">
      {modules && (
        <label className="mb-2 flex items-center gap-2 text-sm text-slate-600">
          <input
            type="checkbox"
            checked={byModule}
            onChange={(event) => setByModule(event.target.checked)}
            data-testid="perturbation-heatmap-by-module"
          />
          Order genes by module ({modules.modules.filter((m) => m.length > 1).length} modules, modularity{' '}
          {modules.modularity.toFixed(3)})
        </label>
      )}
      <Plot
        label="CLIPR causal matrix heatmap"
        className="h-[28rem] w-full"
        data={plot.data}
        layout={plot.layout}
      />
    </div>
  );
}
