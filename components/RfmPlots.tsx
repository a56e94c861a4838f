'use client';
/** Results of an RFM circuit run: every node's density and samples, per mirror-descent iteration, beside the exact target. */
import { useMemo, useState } from 'react';
import type { RfmNodeView } from '~/server/jobs/rfm';
import { Plot } from './Plot';
import { Card, Select } from './ui';

interface GridAxes {
  x: number[];
  y: number[];
}

export function RfmPlots({ nodes, grid }: { nodes: RfmNodeView[]; grid: GridAxes | null }) {
  const ordered = [...nodes].sort((a, b) => a.path.split('.').length - b.path.split('.').length);
  return (
    <div className="flex flex-col gap-6">
      {ordered.map((node) => (
        <NodeCard key={node.path} node={node} grid={grid} />
      ))}
    </div>
  );
}

function NodeCard({ node, grid }: { node: RfmNodeView; grid: GridAxes | null }) {
  const [iteration, setIteration] = useState(node.iterations.length); // 0 … K, K = final
  const shown =
    iteration > 0 && iteration <= node.iterations.length ? node.iterations[iteration - 1] : undefined;
  const density = shown?.density ?? node.density;
  const samples = shown?.samples ?? node.samples;
  const resultData = useMemo(() => heatmapWithSamples(grid, density, samples), [grid, density, samples]);
  const exactData = useMemo(() => heatmapWithSamples(grid, node.exact, undefined), [grid, node.exact]);
  const tv = shown?.tv ?? node.tv;
  return (
    <Card
      title={
        <span data-testid={`rfm-node-${node.path}`}>
          {node.label} <span className="text-xs font-normal text-slate-400">{node.kind}</span>
        </span>
      }
      actions={
        node.iterations.length > 0 && (
          <Select
            value={iteration}
            onChange={(e) => setIteration(Number(e.target.value))}
            aria-label="Iteration"
          >
            {node.iterations.map((it) => (
              <option key={it.k} value={it.k}>
                mirror step {it.k} (γ {it.gamma.toFixed(2)},{' '}
                {Number.isFinite(it.effectiveSampleSize)
                  ? `ESS ${it.effectiveSampleSize.toFixed(0)}`
                  : 'adjoint matching'}
                )
              </option>
            ))}
          </Select>
        )
      }
    >
      {tv !== undefined && (
        <p className="mb-2 text-sm text-slate-600" data-testid="rfm-tv">
          Total variation to the exact target: <b>{tv.toFixed(3)}</b>
          {node.tvBaseline !== undefined && ` (best naive baseline ${node.tvBaseline.toFixed(3)})`}
        </p>
      )}
      <div className="grid gap-4 md:grid-cols-2">
        {resultData.length > 0 && (
          <Plot label={`${node.path}-result`} data={resultData} layout={squareLayout('Result')} />
        )}
        {node.exact && exactData.length > 0 && (
          <Plot label={`${node.path}-exact`} data={exactData} layout={squareLayout('Exact target')} />
        )}
      </div>
    </Card>
  );
}

function squareLayout(title: string) {
  return { title: { text: title }, showlegend: false, yaxis: { scaleanchor: 'x' } };
}

function heatmapWithSamples(
  grid: GridAxes | null,
  z: number[][] | undefined,
  samples: number[][] | undefined,
) {
  const traces: unknown[] = [];
  if (grid && z)
    traces.push({ x: grid.x, y: grid.y, z, type: 'heatmap', colorscale: 'Viridis', showscale: false });
  if (samples) {
    traces.push({
      x: samples.map((s) => s[0]),
      y: samples.map((s) => s[1]),
      type: 'scatter',
      mode: 'markers',
      marker: { size: 2.5, color: 'rgba(255,255,255,0.75)' },
    });
  }
  return traces;
}
