'use client';
/**
 * CLIPR's causal matrix as a network (issue 5, item 7): the N strongest direct effects (by |effect|, the
 * diagonal left out), an arrow from gene i to gene j for effects[i][j], red when it raises j and blue when
 * it lowers it, wider when stronger. Genes sit on a circle ordered by gene module (modularity clustering,
 * server/engines/clipr/modules.ts), coloured by module, so a module is an arc.
 */
import { useMemo, useState } from 'react';
import { Plot } from '../Plot';
import { Field, Input } from '../ui';

export interface CausalModules {
  /** Module index of each gene (largest module first). */
  assignment: number[];
  /** Gene names of each module. */
  modules: string[][];
  modularity: number;
}

const PALETTE = [
  '#2563eb',
  '#d97706',
  '#059669',
  '#dc2626',
  '#7c3aed',
  '#0891b2',
  '#db2777',
  '#65a30d',
  '#9333ea',
  '#ea580c',
];
const POSITIVE = '#b2182b';
const NEGATIVE = '#2166ac';

/** Module colours: the palette for modules of two genes or more, grey for genes on their own. */
export function moduleColor(modules: CausalModules | undefined, gene: number): string {
  if (!modules) return '#475569';
  const module = modules.assignment[gene];
  if (module === undefined || (modules.modules[module]?.length ?? 0) < 2) return '#94a3b8';
  return PALETTE[module % PALETTE.length];
}

/** The `count` largest off-diagonal entries by absolute value, strongest first. */
export function strongestEdges(effects: readonly (readonly number[])[], count: number) {
  const edges: { from: number; to: number; effect: number }[] = [];
  effects.forEach((row, i) =>
    row.forEach((effect, j) => {
      if (i !== j && Number.isFinite(effect) && effect !== 0) edges.push({ from: i, to: j, effect });
    }),
  );
  edges.sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect));
  return edges.slice(0, Math.max(0, count));
}

export function CausalNetwork({
  genes,
  effects,
  modules,
}: {
  genes: string[];
  effects: number[][];
  modules?: CausalModules;
}) {
  const d = genes.length;
  const maxEdges = Math.max(1, Math.min(500, d * (d - 1)));
  const [count, setCount] = useState(Math.min(30, maxEdges));

  const plot = useMemo(() => {
    const edges = strongestEdges(effects, count);
    const shown = [...new Set(edges.flatMap((edge) => [edge.from, edge.to]))].sort(
      (a, b) => (modules?.assignment[a] ?? 0) - (modules?.assignment[b] ?? 0) || a - b,
    );
    const position = new Map(
      shown.map((gene, k) => {
        const angle = Math.PI / 2 - (2 * Math.PI * k) / Math.max(1, shown.length);
        return [gene, { x: Math.cos(angle), y: Math.sin(angle) }];
      }),
    );
    const strongest = edges.reduce((max, edge) => Math.max(max, Math.abs(edge.effect)), 1e-12);
    const at = (gene: number) => position.get(gene)!;
    const describe = (edge: (typeof edges)[number]) =>
      `${genes[edge.from]} → ${genes[edge.to]}: ${edge.effect.toFixed(4)}`;
    return {
      edges,
      data: [
        {
          // Invisible points mid-edge carry each edge's hover text (arrows themselves do not hover).
          type: 'scatter',
          mode: 'markers',
          x: edges.map((edge) => (at(edge.from).x + at(edge.to).x) / 2),
          y: edges.map((edge) => (at(edge.from).y + at(edge.to).y) / 2),
          text: edges.map(describe),
          hovertemplate: '%{text}<extra></extra>',
          marker: { size: 10, opacity: 0 },
          showlegend: false,
        },
        {
          type: 'scatter',
          mode: 'markers+text',
          x: shown.map((gene) => at(gene).x),
          y: shown.map((gene) => at(gene).y),
          text: shown.map((gene) => genes[gene]),
          customdata: shown.map((gene) => (modules ? `module ${(modules.assignment[gene] ?? 0) + 1}` : '')),
          hovertemplate: '%{text} %{customdata}<extra></extra>',
          textposition: shown.map((gene) => {
            const { x, y } = at(gene);
            return `${y >= 0 ? 'top' : 'bottom'} ${x >= 0 ? 'right' : 'left'}`;
          }),
          marker: {
            size: 14,
            color: shown.map((gene) => moduleColor(modules, gene)),
            line: { color: '#fff', width: 1 },
          },
          showlegend: false,
        },
      ],
      layout: {
        margin: { t: 10, r: 10, b: 10, l: 10 },
        xaxis: { visible: false, range: [-1.35, 1.35] },
        yaxis: { visible: false, range: [-1.25, 1.25], scaleanchor: 'x' },
        hovermode: 'closest',
        annotations: edges.map((edge) => ({
          x: at(edge.to).x,
          y: at(edge.to).y,
          ax: at(edge.from).x,
          ay: at(edge.from).y,
          xref: 'x',
          yref: 'y',
          axref: 'x',
          ayref: 'y',
          text: '',
          showarrow: true,
          arrowhead: 2,
          arrowsize: 1,
          arrowwidth: 0.75 + (4.25 * Math.abs(edge.effect)) / strongest,
          arrowcolor: edge.effect > 0 ? POSITIVE : NEGATIVE,
          opacity: 0.75,
          standoff: 8,
          startstandoff: 8,
        })),
      },
    };
  }, [effects, genes, modules, count]);

  return (
    <div data-testid="perturbation-network">
      <div className="mb-2 flex flex-wrap items-end gap-3 text-sm">
        <Field label="Strongest edges">
          <Input
            type="number"
            min={1}
            max={maxEdges}
            value={count}
            onChange={(event) => {
              const value = Math.round(Number(event.target.value));
              if (Number.isFinite(value)) setCount(Math.min(maxEdges, Math.max(1, value)));
            }}
            data-testid="perturbation-network-edges"
          />
        </Field>
        <p className="text-slate-500">
          {plot.edges.length} edges · arrow i → j: effect of i on j ·{' '}
          <span style={{ color: POSITIVE }}>red raises</span>,{' '}
          <span style={{ color: NEGATIVE }}>blue lowers</span> · width ∝ |effect|
        </p>
      </div>
      <Plot
        label="CLIPR network of the strongest edges"
        className="h-[28rem] w-full"
        data={plot.data}
        layout={plot.layout}
      />
      {modules && (
        <div className="mt-3 text-sm" data-testid="perturbation-modules">
          <p className="text-slate-600">
            {modules.modules.length} gene modules (modularity {modules.modularity.toFixed(3)}):
          </p>
          <ul className="mt-1 flex flex-col gap-1">
            {modules.modules
              .map((members, index) => ({ members, index }))
              .filter(({ members }) => members.length > 1)
              .map(({ members, index }) => (
                <li key={index}>
                  <span
                    className="mr-2 inline-block h-2.5 w-2.5 rounded-full"
                    style={{ backgroundColor: PALETTE[index % PALETTE.length] }}
                  />
                  <span className="font-medium">module {index + 1}</span>{' '}
                  <span className="text-slate-600">{members.join(', ')}</span>
                </li>
              ))}
          </ul>
          {modules.modules.some((members) => members.length === 1) && (
            <p className="mt-1 text-slate-500">
              On their own (grey):{' '}
              {modules.modules
                .filter((members) => members.length === 1)
                .map((members) => members[0])
                .join(', ')}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
