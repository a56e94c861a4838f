'use client';
/** Ranks a pasted molecule list by a molecules campaign's learned reward (θ̂ over the pool's features). */
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../trpc';
import { Button, Card, ErrorNote } from '../ui';

export function RankMolecules({ campaignId }: { campaignId: string }) {
  const trpc = useTRPC();
  const [text, setText] = useState('');
  const rank = useMutation(trpc.preference.rank.mutationOptions());
  return (
    <Card title="Rank molecules by the learned reward">
      <div className="flex flex-col gap-2">
        <label className="text-sm text-slate-600">
          One SMILES per line, optionally followed by a name
          <textarea
            className="mt-1 h-28 w-full rounded border border-slate-300 p-2 font-mono text-xs"
            value={text}
            onChange={(event) => setText(event.target.value)}
            aria-label="Molecules to rank"
          />
        </label>
        <div>
          <Button
            type="button"
            disabled={rank.isPending || text.trim() === ''}
            onClick={() => rank.mutate({ campaignId, molecules: text })}
          >
            Rank
          </Button>
        </div>
        <ErrorNote error={rank.error} />
        {rank.data && (
          <table className="w-full text-left text-sm" data-testid="ranked-molecules">
            <thead>
              <tr className="text-slate-500">
                <th>#</th>
                <th>Molecule</th>
                <th>Learned reward</th>
              </tr>
            </thead>
            <tbody>
              {rank.data.ranked.map((row, i) => (
                <tr key={`${row.line}`} className="border-t border-slate-100">
                  <td>{row.valid ? i + 1 : '–'}</td>
                  <td className="font-mono text-xs">
                    {row.name ? `${row.name} · ` : ''}
                    {row.smiles}
                  </td>
                  <td>
                    {row.reward === null ? `not a molecule: ${row.error ?? ''}` : row.reward.toFixed(3)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </Card>
  );
}
