'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useTRPC } from './trpc';
import { Button, ErrorNote, formatDuration, ProgressBar, StatusBadge } from './ui';

const live = new Set(['queued', 'running']);

/** The project's runs, refreshed every second while any of them is queued or running. */
export function RunsTable({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const runs = useQuery(
    trpc.run.list.queryOptions(
      { projectId },
      { refetchInterval: (query) => (query.state.data?.some((run) => live.has(run.status)) ? 1000 : false) },
    ),
  );
  const cancel = useMutation(
    trpc.run.cancel.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.run.list.queryKey({ projectId }) }),
    }),
  );
  if (runs.error) return <ErrorNote error={runs.error} />;
  if (!runs.data) return <p className="text-sm text-slate-500">Loading…</p>;
  if (runs.data.length === 0) return <p className="text-sm text-slate-500">No runs yet.</p>;
  return (
    <>
      <ErrorNote error={cancel.error} />
      <table className="w-full text-left text-sm" data-testid="runs-table">
        <thead className="text-xs uppercase text-slate-500">
          <tr>
            <th className="py-2">Run</th>
            <th>Status</th>
            <th className="w-64">Progress</th>
            <th>Loss</th>
            <th>Started</th>
            <th />
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {runs.data.map((run) => (
            <tr key={run.id} data-run-id={run.id}>
              <td className="py-2">
                <Link href={`/runs/${run.id}`} className="font-medium text-brand-700 hover:underline">
                  {run.name}
                </Link>
                <div className="text-xs text-slate-400">{run.kind}</div>
              </td>
              <td>
                <StatusBadge status={run.status} />
              </td>
              <td className="pr-4">
                <ProgressBar fraction={run.status === 'succeeded' ? 1 : run.progress.fraction} />
                <div className="mt-1 text-xs text-slate-500">
                  {run.status === 'running'
                    ? `${run.progress.message ?? ''} ${run.progress.step ?? ''}/${run.progress.totalSteps ?? ''} · ETA ${formatDuration(run.progress.etaSeconds)}`
                    : run.status === 'failed'
                      ? run.error
                      : ''}
                </div>
              </td>
              <td className="tabular-nums">
                {(run.metrics?.finalLoss ?? run.progress.metrics?.loss)?.toFixed(4) ?? '–'}
              </td>
              <td className="text-xs text-slate-500">{run.startedAt?.toLocaleTimeString() ?? '–'}</td>
              <td className="text-right">
                {canEdit && live.has(run.status) && (
                  <Button
                    variant="danger"
                    onClick={() => cancel.mutate({ runId: run.id })}
                    disabled={cancel.isPending}
                  >
                    Cancel
                  </Button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
