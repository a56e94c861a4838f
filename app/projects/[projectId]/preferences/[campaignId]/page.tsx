'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { use } from 'react';
import { CampaignView } from '~/components/preferences/CampaignView';
import { useTRPC } from '~/components/trpc';
import { ErrorNote } from '~/components/ui';
import { useRedirectIfSignedOut } from '~/components/useSignedIn';

export default function CampaignPage({
  params,
}: {
  params: Promise<{ projectId: string; campaignId: string }>;
}) {
  const { projectId, campaignId } = use(params);
  const trpc = useTRPC();
  const dashboard = useQuery(trpc.preference.get.queryOptions({ campaignId }));
  useRedirectIfSignedOut(dashboard.error);
  if (dashboard.error) return <ErrorNote error={dashboard.error} />;
  if (!dashboard.data) return <p className="text-sm text-slate-500">Loading…</p>;
  return (
    <div className="flex flex-col gap-4">
      <Link href={`/projects/${projectId}`} className="text-sm text-brand-700 hover:underline">
        ← Project
      </Link>
      <CampaignView dashboard={dashboard.data} />
    </div>
  );
}
