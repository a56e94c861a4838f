'use client';
/** A run's dashboard: status, config, backend, timings, metrics, plots and logs. Used signed-in and shared. */
import { useMemo, type ReactNode } from 'react';
import type { RouterOutputs } from './types';
import type { RfmNodeView } from '~/server/jobs/rfm';
import { Plot } from './Plot';
import { LibraryPlots, type LibraryArtifact } from './molecules/LibraryPlots';
import { MoleculeGrid, type MoleculeRow } from './molecules/MoleculeGrid';
import { ConformerPlots, type ConformerArtifact } from './conformers/ConformerPlots';
import {
  PerturbationPlots,
  type ConditionDistributions,
  type PerturbationArtifact,
} from './perturbation/PerturbationPlots';
import { RfmPlots } from './RfmPlots';
import { Card, formatDuration, ProgressBar, StatusBadge } from './ui';

type Dashboard = RouterOutputs['share']['view'] | RouterOutputs['run']['get'];

interface LossPoint {
  step: number;
  loss: number;
}
interface DensityGrid {
  x: number[];
  y: number[];
  z: number[][];
  kind?: string;
}

export function RunDashboard({ dashboard, actions }: { dashboard: Dashboard; actions?: ReactNode }) {
  const { run, artifacts, logs } = dashboard;
  return (
    <div className="flex flex-col gap-6">
      <div className="flex flex-wrap items-start justify-between gap-4">
        <div>
          <p className="text-xs text-slate-400">{dashboard.projectName}</p>
          <h1 className="text-2xl font-semibold">{run.name}</h1>
          <div className="mt-1 flex items-center gap-2 text-sm text-slate-500">
            <StatusBadge status={run.status} />
            <span>{run.kind}</span>
            <span>· seed {run.seed}</span>
            {run.backend && <span data-testid="backend">· backend {run.backend}</span>}
            <span>· attempt {run.attempts}</span>
          </div>
        </div>
        {actions}
      </div>

      {(run.status === 'running' || run.status === 'queued') && (
        <Card title="Progress">
          <ProgressBar fraction={run.progress.fraction} />
          <p className="mt-2 text-sm text-slate-600">
            {run.progress.message} {run.progress.step ?? ''}
            {run.progress.totalSteps ? ` / ${run.progress.totalSteps}` : ''} · ETA{' '}
            {formatDuration(run.progress.etaSeconds)}
            {run.progress.metrics?.loss !== undefined && ` · loss ${run.progress.metrics.loss.toFixed(4)}`}
          </p>
        </Card>
      )}
      {run.error && (
        <Card title="Error">
          <pre className="whitespace-pre-wrap text-sm text-red-800">{run.error}</pre>
        </Card>
      )}

      <div className="grid gap-6 md:grid-cols-3">
        <Card title="Metrics">
          <KeyValues values={run.metrics ?? {}} testId="metrics" />
        </Card>
        <Card title="Timings">
          <KeyValues values={run.timings ?? {}} format={(v) => formatDuration(v)} />
        </Card>
        <Card title="Config">
          <pre className="max-h-56 overflow-auto text-xs text-slate-700">
            {JSON.stringify(run.config, null, 2)}
          </pre>
          <p className="mt-2 text-xs text-slate-400">code {run.codeVersion}</p>
        </Card>
      </div>

      <Flow2dPlots artifacts={artifacts} />
      {Array.isArray(artifacts.nodes) && (
        <RfmPlots
          nodes={artifacts.nodes as RfmNodeView[]}
          grid={(artifacts.grid as { x: number[]; y: number[] } | null) ?? null}
        />
      )}

      {Array.isArray(artifacts.molecules) && (
        <MoleculeGrid
          molecules={artifacts.molecules as MoleculeRow[]}
          sdfHref={'role' in dashboard ? `/api/runs/${run.id}/molecules.sdf` : undefined}
        />
      )}
      {typeof artifacts.library === 'object' &&
        artifacts.library !== null &&
        Array.isArray(artifacts.molecules) && (
          <LibraryPlots
            library={artifacts.library as LibraryArtifact}
            samples={artifacts.molecules as MoleculeRow[]}
          />
        )}
      {artifacts.conformers !== undefined && artifacts.conformers !== null && (
        <ConformerPlots artifact={artifacts.conformers as ConformerArtifact} runName={run.name} />
      )}
      {artifacts.perturbation !== undefined && artifacts.perturbation !== null && (
        <PerturbationPlots
          artifact={artifacts.perturbation as PerturbationArtifact}
          distributions={artifacts.perturbationDistributions as ConditionDistributions[] | undefined}
          downloadBase={'role' in dashboard ? `/api/runs/${run.id}/perturbation` : undefined}
        />
      )}

      <Card title="Log">
        <ol className="max-h-72 overflow-auto font-mono text-xs" data-testid="run-log">
          {logs.map((entry, i) => (
            <li
              key={i}
              className={
                entry.level === 'error' ? 'text-red-700' : entry.level === 'warn' ? 'text-amber-700' : ''
              }
            >
              <span className="text-slate-400">{entry.at.toLocaleTimeString()}</span> {entry.message}
            </li>
          ))}
        </ol>
      </Card>
    </div>
  );
}

function KeyValues({
  values,
  format = (v) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4)),
  testId,
}: {
  values: Record<string, number>;
  format?: (value: number) => string;
  testId?: string;
}) {
  const entries = Object.entries(values);
  if (entries.length === 0) return <p className="text-sm text-slate-400">None yet.</p>;
  return (
    <dl className="grid grid-cols-2 gap-x-3 gap-y-1 text-sm" data-testid={testId}>
      {entries.map(([key, value]) => (
        <div key={key} className="contents">
          <dt className="text-slate-500">{key}</dt>
          {/* JSON has no NaN: a metric that could not be computed comes back as null. */}
          <dd className="text-right tabular-nums">
            {typeof value === 'number' && Number.isFinite(value) ? format(value) : '–'}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** Loss curve, learned density and samples of a 2-D flow run (absent artifacts are skipped). */
function Flow2dPlots({ artifacts }: { artifacts: Record<string, unknown> }) {
  const lossCurve = artifacts.lossCurve as LossPoint[] | undefined;
  const samples = artifacts.samples as number[][] | undefined;
  const density = artifacts.density as DensityGrid | undefined;
  const lossData = useMemo(
    () =>
      lossCurve
        ? [
            {
              x: lossCurve.map((p) => p.step),
              y: lossCurve.map((p) => p.loss),
              type: 'scatter',
              mode: 'lines',
            },
          ]
        : [],
    [lossCurve],
  );
  const densityData = useMemo(() => {
    const traces: unknown[] = [];
    if (density) {
      traces.push({
        x: density.x,
        y: density.y,
        z: density.z,
        type: 'heatmap',
        colorscale: 'Viridis',
        colorbar: { title: { text: density.kind === 'logDensity' ? 'log p' : 'p' } },
      });
    }
    if (samples) {
      traces.push({
        x: samples.map((s) => s[0]),
        y: samples.map((s) => s[1]),
        type: 'scatter',
        mode: 'markers',
        marker: { size: 3, color: 'rgba(255,255,255,0.7)' },
        name: 'samples',
      });
    }
    return traces;
  }, [density, samples]);
  if (!lossCurve && !samples && !density) return null;
  return (
    <div className="grid gap-6 md:grid-cols-2">
      {lossCurve && (
        <Card title="Training loss">
          <Plot
            label="loss"
            data={lossData}
            layout={{
              xaxis: { title: { text: 'step' } },
              yaxis: { title: { text: 'flow-matching loss' }, type: 'log' },
            }}
          />
        </Card>
      )}
      {densityData.length > 0 && (
        <Card title="Learned density and samples">
          <Plot
            label="density"
            data={densityData}
            layout={{ showlegend: false, yaxis: { scaleanchor: 'x' } }}
          />
        </Card>
      )}
    </div>
  );
}
