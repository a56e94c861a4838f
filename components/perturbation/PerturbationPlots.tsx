'use client';
/** A perturbation run's results: held-out metrics against the baselines, loss curves, the causal matrix. */
import { Plot } from '../Plot';
import { Card } from '../ui';

type MetricRow = Record<'rmse_mean' | 'pearson_shift' | 'energy_distance' | 'mmd', number | null>;
type Scored = Record<'lcd' | 'control' | 'additive', { all: MetricRow; top_de: MetricRow }>;

export interface PerturbationArtifact {
  summary: {
    cells: number;
    genes: number;
    held_out: string[];
    metrics: { per_combination: (Scored & { perturbation: string })[]; mean: Scored | null };
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
  const largest = Math.max(1e-12, ...causal.effects.flat().map((v) => Math.abs(v)));
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
