'use client';
/** A conformer run's results: the ensemble in 3-D, the energy histogram, the table, and the SDF download. */
import { useMemo, useState } from 'react';
import { Plot } from '../Plot';
import { Button, Card } from '../ui';
import { ConformerViewer } from './ConformerViewer';

export interface ConformerArtifact {
  smiles: string;
  energyUnit: string;
  table: {
    index: number;
    energy: number;
    relative: number;
    origin: string;
    converged: boolean;
    /** GFN2-xTB energy above the ensemble's lowest, kcal/mol (runs with the xtb energy). */
    xtbRelative?: number;
  }[];
  candidates: number;
  sdf: string;
}

/** The records of an SD file, each ending with its $$$$ line. */
function sdfRecords(sdf: string): string[] {
  return sdf
    .split(/^\$\$\$\$\r?$/m)
    .map((record) => record.replace(/^\r?\n/, ''))
    .filter((record) => record.trim() !== '')
    .map((record) => `${record}$$$$\n`);
}

export function ConformerPlots({ artifact, runName }: { artifact: ConformerArtifact; runName: string }) {
  const records = useMemo(() => sdfRecords(artifact.sdf), [artifact.sdf]);
  const [shown, setShown] = useState(0);
  const row = artifact.table[shown];
  const hasXtb = artifact.table.some((r) => r.xtbRelative !== undefined);

  function download() {
    const url = URL.createObjectURL(new Blob([artifact.sdf], { type: 'chemical/x-mdl-sdfile' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${runName.replace(/[^\w.-]+/g, '_') || 'conformers'}.sdf`;
    link.click();
    URL.revokeObjectURL(url);
  }

  return (
    <>
      <Card title={`Conformers of ${artifact.smiles}`}>
        <div className="grid gap-4 md:grid-cols-[2fr_1fr]">
          {records[shown] && <ConformerViewer record={records[shown]} label="3-D conformer viewer" />}
          <div className="flex flex-col gap-3 text-sm">
            <label className="flex flex-col gap-1">
              <span className="font-medium text-slate-600">
                Conformer {shown + 1} of {records.length}
              </span>
              <input
                type="range"
                min={0}
                max={Math.max(0, records.length - 1)}
                value={shown}
                onChange={(event) => setShown(Number(event.target.value))}
                aria-label="Conformer"
              />
            </label>
            {row && (
              <p data-testid="conformer-energy">
                E = {row.energy.toFixed(3)} {artifact.energyUnit}; ΔE = {row.relative.toFixed(3)} above the
                lowest; from {row.origin}
                {row.converged ? '' : ' (minimisation not converged)'}
              </p>
            )}
            <Button type="button" onClick={download}>
              Download SDF
            </Button>
            <p className="text-xs text-slate-500">
              {records.length} distinct conformers from {artifact.candidates} minimised candidates; the SDF
              carries every hydrogen and each conformer's energy as ENERGY.
            </p>
          </div>
        </div>
      </Card>
      <div className="grid gap-6 md:grid-cols-2">
        <Card title="Energies relative to the lowest (kcal/mol)">
          <Plot
            label="conformer energy histogram"
            data={[
              { type: 'histogram', name: 'MMFF94', x: artifact.table.map((r) => r.relative), nbinsx: 20 },
              ...(hasXtb
                ? [
                    {
                      type: 'histogram',
                      name: 'GFN2-xTB',
                      x: artifact.table.map((r) => r.xtbRelative),
                      nbinsx: 20,
                      opacity: 0.6,
                    },
                  ]
                : []),
            ]}
            layout={{
              height: 320,
              xaxis: { title: { text: 'ΔE (kcal/mol)' } },
              yaxis: { title: { text: 'count' } },
            }}
          />
        </Card>
        <Card title="Conformers">
          <div className="max-h-80 overflow-auto">
            <table className="w-full text-sm" data-testid="conformer-table">
              <thead>
                <tr className="text-left text-slate-500">
                  <th>#</th>
                  <th>E (kcal/mol)</th>
                  <th>ΔE</th>
                  {hasXtb && <th>ΔE xtb</th>}
                  <th>origin</th>
                </tr>
              </thead>
              <tbody>
                {artifact.table.map((r, i) => (
                  <tr
                    key={r.index}
                    className={`cursor-pointer border-t border-slate-100 ${i === shown ? 'bg-brand-50' : ''}`}
                    onClick={() => setShown(i)}
                  >
                    <td>{r.index}</td>
                    <td>{r.energy.toFixed(3)}</td>
                    <td>{r.relative.toFixed(3)}</td>
                    {hasXtb && <td>{r.xtbRelative?.toFixed(3)}</td>}
                    <td>{r.origin}</td>
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
