'use client';
/**
 * A molecular prior's training library next to the prior's samples: the library's size and skipped
 * molecules, and per property (QED, SA score, logP, MW, TPSA) the library's distribution (up to 1,000
 * molecules evenly spread over it) overlaid on the samples' (DESIGN.md §3 metrics: property distributions
 * against the training set).
 */
import { Plot } from '../Plot';
import { Card } from '../ui';
import type { MoleculeRow } from './MoleculeGrid';

export interface LibraryArtifact {
  molecules: number;
  skippedCount?: number;
  skipped: { smiles: string; reason: string }[];
  properties?: { molecules: number; of: number; values: Record<string, number[]> };
}

const LABELS: Record<string, string> = {
  qed: 'QED',
  sa: 'SA score',
  logp: 'Crippen logP',
  mw: 'Molecular weight',
  tpsa: 'TPSA',
};

export function LibraryPlots({ library, samples }: { library: LibraryArtifact; samples: MoleculeRow[] }) {
  const properties = library.properties;
  return (
    <Card title="Training library">
      <p className="mb-3 text-sm text-slate-600" data-testid="library-stats">
        {library.molecules} molecules trained on
        {library.skippedCount ? `, ${library.skippedCount} skipped (e.g. ${library.skipped[0]?.reason})` : ''}
        .
        {properties &&
          ` Distributions: ${properties.molecules} of them (evenly spread) against ${samples.length} distinct samples of the prior.`}
      </p>
      {properties && (
        <div className="grid gap-4 md:grid-cols-3" data-testid="library-histograms">
          {Object.entries(properties.values).map(([key, values]) => (
            <Plot
              key={key}
              label={`${LABELS[key] ?? key}: library vs samples`}
              className="h-56 w-full"
              data={[
                { type: 'histogram', x: values, name: 'library', opacity: 0.6, histnorm: 'probability' },
                {
                  type: 'histogram',
                  x: samples.map((m) => Number(m[key])),
                  name: 'samples',
                  opacity: 0.6,
                  histnorm: 'probability',
                },
              ]}
              layout={{
                barmode: 'overlay',
                height: 220,
                margin: { t: 24, r: 8, b: 32, l: 36 },
                title: { text: LABELS[key] ?? key, font: { size: 12 } },
                showlegend: key === 'qed',
              }}
            />
          ))}
        </div>
      )}
    </Card>
  );
}
