'use client';
import { useQuery } from '@tanstack/react-query';
import { use } from 'react';
import { RunDashboard } from '~/components/RunDashboard';
import { useTRPC } from '~/components/trpc';
import { ErrorNote } from '~/components/ui';

/** A shared dashboard: read-only, no account needed, this run only. */
export default function SharedRunPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = use(params);
  const trpc = useTRPC();
  const dashboard = useQuery(trpc.share.view.queryOptions({ token }));
  if (dashboard.error) return <ErrorNote error={dashboard.error} />;
  if (!dashboard.data) return <p className="text-sm text-slate-500">Loading…</p>;
  return (
    <div className="flex flex-col gap-4">
      <p className="rounded-md bg-brand-50 px-3 py-2 text-sm text-brand-700" data-testid="shared-banner">
        Shared read-only view
        {dashboard.data.expiresAt && ` · link expires ${dashboard.data.expiresAt.toLocaleDateString()}`}
      </p>
      <RunDashboard dashboard={dashboard.data} />
    </div>
  );
}
