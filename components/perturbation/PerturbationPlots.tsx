'use client';
/** A perturbation run's results: held-out metrics against the baselines, loss curves, the causal matrix. */
import { Plot } from '../Plot';
import { Card } from '../ui';

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
    training: {
      prediction_model: { loss_curve: { step: number; loss: number }[] };
      clipr_model: { loss_curve: { step: number; loss: number }[] };
    };
  };
  causal: { genes: string[]; effects: number[][] };
}

const metricNames = ['rmse_mean', 'pearson_shift', 'energy_distance', 'mmd'] as const;
const format = (value: number | null) => (value === null ? '–' : value.toFixed(4));

export function PerturbationPlots({ artifact }: { artifact: PerturbationArtifact }) {
  const { summary, causal } = artifact;
  const mean = summary.metrics.mean;
  const singles = summary.metrics.held_out_singles;
  // A reduce, not Math.max(...values): a 300-gene matrix is 90,000 numbers, past the engine's argument limit.
  const largest = causal.effects.reduce(
    (max, row) => row.reduce((m, v) => Math.max(m, Math.abs(v)), max),
    1e-12,
  );
  return (
    <>
      <Card title={`Held-out combinations (${summary.held_out.length})`}>
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
      <div className="grid gap-6 md:grid-cols-2">
        <Card title="Causal matrix (CLIPR): effect of row gene on column gene">
          <Plot
            label="CLIPR causal matrix heatmap"
            data={[
              {
                type: 'heatmap',
                z: causal.effects,
                x: causal.genes,
                y: causal.genes,
                zmin: -largest,
                zmax: largest,
                colorscale: 'RdBu',
                reversescale: true,
              },
            ]}
            layout={{ height: 420, margin: { t: 10, r: 10, b: 60, l: 60 }, yaxis: { autorange: 'reversed' } }}
          />
        </Card>
        <Card title="Training loss">
          <Plot
            label="LCD training loss curves"
            data={[
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
            ]}
            layout={{ height: 420, margin: { t: 10, r: 10, b: 40, l: 50 }, yaxis: { type: 'log' } }}
          />
        </Card>
      </div>
    </>
  );
}
