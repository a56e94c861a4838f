'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { use } from 'react';
import { RunDashboard } from '~/components/RunDashboard';
import { ShareButton } from '~/components/ShareButton';
import { useTRPC } from '~/components/trpc';
import { ErrorNote } from '~/components/ui';
import { useRedirectIfSignedOut } from '~/components/useSignedIn';

export default function RunPage({ params }: { params: Promise<{ runId: string }> }) {
  const { runId } = use(params);
  const trpc = useTRPC();
  const dashboard = useQuery(
    trpc.run.get.queryOptions(
      { runId },
      {
        refetchInterval: (query) =>
          query.state.data && ['queued', 'running'].includes(query.state.data.run.status) ? 1000 : false,
      },
    ),
  );
  useRedirectIfSignedOut(dashboard.error);
  if (dashboard.error) return <ErrorNote error={dashboard.error} />;
  if (!dashboard.data) return <p className="text-sm text-slate-500">Loading…</p>;
  return (
    <div className="flex flex-col gap-4">
      <Link
        href={`/projects/${dashboard.data.run.projectId}`}
        className="text-sm text-brand-700 hover:underline"
      >
        ← {dashboard.data.projectName}
      </Link>
      <RunDashboard
        dashboard={dashboard.data}
        actions={dashboard.data.role !== 'viewer' ? <ShareButton runId={runId} /> : undefined}
      />
    </div>
  );
}
