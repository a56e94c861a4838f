'use client';
/**
 * Molecules of a prior or design run: depictions of the best, a sortable table of reward and
 * properties, a QED / SA histogram, and CSV export.
 */
import { useMemo, useState } from 'react';
import { Plot } from '../Plot';
import { Card } from '../ui';

export interface MoleculeRow {
  smiles: string;
  reward: number;
  svg: string | null;
  [property: string]: string | number | null;
}

const columns = ['reward', 'qed', 'sa', 'logp', 'tpsa', 'mw', 'hbd', 'hba', 'rotb', 'rings'] as const;

function toCsv(rows: MoleculeRow[]): string {
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
  return [
    ['smiles', ...columns].join(','),
    ...rows.map((r) => [quote(r.smiles), ...columns.map((c) => r[c])].join(',')),
  ].join('\n');
}

/** `sdfHref`: where the run's molecules download as SDF (signed-in views; absent on share links). */
export function MoleculeGrid({ molecules, sdfHref }: { molecules: MoleculeRow[]; sdfHref?: string }) {
  const [sortBy, setSortBy] = useState<(typeof columns)[number]>('reward');
  const sorted = useMemo(
    () => [...molecules].sort((a, b) => Number(b[sortBy] ?? 0) - Number(a[sortBy] ?? 0)),
    [molecules, sortBy],
  );
  const csvHref = useMemo(() => `data:text/csv;charset=utf-8,${encodeURIComponent(toCsv(sorted))}`, [sorted]);
  return (
    <>
      <Card title={`Molecules (${molecules.length})`}>
        <div className="grid grid-cols-2 gap-3 md:grid-cols-4 lg:grid-cols-6" data-testid="molecule-grid">
          {molecules
            .filter((m) => m.svg)
            .slice(0, 24)
            .map((m) => (
              <figure key={m.smiles} className="rounded border border-slate-200 p-1 text-center text-xs">
                {/* An <img> of the server's RDKit SVG: drawn, never executed. */}
                <img alt={m.smiles} src={`data:image/svg+xml;utf8,${encodeURIComponent(m.svg ?? '')}`} />
                <figcaption className="truncate" title={m.smiles}>
                  reward {m.reward.toFixed(3)} · QED {Number(m.qed).toFixed(2)}
                </figcaption>
              </figure>
            ))}
        </div>
      </Card>
      <div className="grid gap-6 md:grid-cols-2">
        <Card title="Property distributions">
          <Plot
            label="Distributions of QED and SA score of the molecules"
            data={[
              { type: 'histogram', x: molecules.map((m) => Number(m.qed)), name: 'QED', opacity: 0.7 },
              {
                type: 'histogram',
                x: molecules.map((m) => Number(m.sa) / 10),
                name: 'SA / 10',
                opacity: 0.7,
              },
            ]}
            layout={{ barmode: 'overlay', height: 280, margin: { t: 10, r: 10, b: 40, l: 40 } }}
          />
        </Card>
        <Card title="Table">
          <div className="mb-2 flex items-center gap-2 text-sm">
            Sort by
            <select value={sortBy} onChange={(e) => setSortBy(e.target.value as (typeof columns)[number])}>
              {columns.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
            <a className="ml-auto text-brand-700 underline" href={csvHref} download="molecules.csv">
              Export CSV
            </a>
            {sdfHref && (
              <a className="text-brand-700 underline" href={sdfHref}>
                Export SDF
              </a>
            )}
          </div>
          <div className="max-h-72 overflow-auto">
            <table className="w-full text-xs">
              <thead>
                <tr className="text-left text-slate-500">
                  <th>SMILES</th>
                  {columns.map((c) => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {sorted.slice(0, 200).map((m) => (
                  <tr key={m.smiles} className="border-t border-slate-100">
                    <td className="max-w-48 truncate font-mono" title={m.smiles}>
                      {m.smiles}
                    </td>
                    {columns.map((c) => (
                      <td key={c}>
                        {typeof m[c] === 'number' ? Number(m[c]).toFixed(c === 'mw' ? 1 : 2) : ''}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      </div>
    </>
  );
}
