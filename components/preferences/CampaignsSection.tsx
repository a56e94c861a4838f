'use client';
/** The project's Preferences tab: its preference campaigns, and a form to start one (editors). */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { MAX_POOL_MOLECULES } from '~/server/preferences/config';
import { useTRPC } from '../trpc';
import { Button, Card, ErrorNote, Field, formText, Input, ProgressBar, Select } from '../ui';

export interface ProjectMember {
  userId: string;
  name: string;
  email: string;
  role: 'owner' | 'editor' | 'viewer';
}

export const criterionLabels: Record<string, string> = {
  aopt: 'A-optimal',
  dopt: 'D-optimal',
  random: 'random',
};

export function CampaignsSection({
  projectId,
  canEdit,
  members,
}: {
  projectId: string;
  canEdit: boolean;
  members: ProjectMember[];
}) {
  return (
    <>
      {canEdit && (
        <Card title="New preference campaign">
          <CreateCampaignForm projectId={projectId} members={members} />
        </Card>
      )}
      <Card title="Preference campaigns">
        <CampaignList projectId={projectId} />
      </Card>
    </>
  );
}

function CampaignList({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const campaigns = useQuery(trpc.preference.list.queryOptions({ projectId }));
  if (campaigns.error) return <ErrorNote error={campaigns.error} />;
  if (!campaigns.data) return <p className="text-sm text-slate-500">Loading…</p>;
  if (campaigns.data.length === 0) return <p className="text-sm text-slate-500">No campaigns yet.</p>;
  return (
    <table className="w-full text-left text-sm" data-testid="campaigns-table">
      <thead className="text-xs uppercase text-slate-500">
        <tr>
          <th className="py-2">Campaign</th>
          <th>Design</th>
          <th className="w-56">Progress</th>
          <th>Assigned to</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody className="divide-y divide-slate-100">
        {campaigns.data.map((campaign) => {
          const shown = campaign.answered + campaign.skipped;
          return (
            <tr key={campaign.id} data-campaign-id={campaign.id}>
              <td className="py-2">
                <Link
                  href={`/projects/${projectId}/preferences/${campaign.id}`}
                  className="font-medium text-brand-700 hover:underline"
                >
                  {campaign.name}
                </Link>
                <div className="text-xs text-slate-400">
                  {campaign.domain} · K = {campaign.config.K}
                </div>
              </td>
              <td className="text-xs text-slate-600">{criterionLabels[campaign.config.criterion]}</td>
              <td className="pr-4">
                <ProgressBar fraction={shown / campaign.config.budget} />
                <div className="mt-1 text-xs text-slate-500">
                  {campaign.answered} answered{campaign.skipped ? `, ${campaign.skipped} skipped` : ''} of{' '}
                  {campaign.config.budget}
                  {campaign.status === 'completed' && ' · complete'}
                </div>
              </td>
              <td className="text-xs text-slate-500">{campaign.assignee ?? '–'}</td>
              <td className="text-xs text-slate-500">
                {campaign.createdBy} · {campaign.createdAt.toLocaleDateString()}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function optionalInteger(form: FormData, name: string): number | undefined {
  const text = formText(form, name).trim();
  return text === '' ? undefined : Number(text);
}

function CreateCampaignForm({ projectId, members }: { projectId: string; members: ProjectMember[] }) {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const [domain, setDomain] = useState<'molecules' | 'tokens'>('molecules');
  const create = useMutation(
    trpc.preference.create.mutationOptions({
      onSuccess: async ({ id }) => {
        await queryClient.invalidateQueries({ queryKey: trpc.preference.list.queryKey({ projectId }) });
        router.push(`/projects/${projectId}/preferences/${id}`);
      },
    }),
  );
  const answerers = members.filter((member) => member.role !== 'viewer');
  // Finished molecule runs: their stored molecules (samples of a prior, a design's results) can be the pool.
  const runs = useQuery(trpc.run.list.queryOptions({ projectId }));
  const moleculeRuns = (runs.data ?? []).filter(
    (run) => (run.kind === 'molecule-prior' || run.kind === 'molecule-design') && run.status === 'succeeded',
  );
  const [poolSource, setPoolSource] = useState('');
  const [assemble, setAssemble] = useState(false);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const common = {
      projectId,
      name: formText(form, 'name'),
      K: Number(form.get('K')),
      budget: Number(form.get('budget')),
      criterion: formText(form, 'criterion') as 'aopt' | 'dopt' | 'random',
      lambda: Number(form.get('lambda')),
      seed: optionalInteger(form, 'seed'),
      assignee: formText(form, 'assignee') || undefined,
    };
    if (domain === 'tokens') {
      create.mutate({
        ...common,
        domain,
        horizon: Number(form.get('horizon')),
        vocab: Number(form.get('vocab')),
        dim: Number(form.get('dim')),
      });
    } else {
      const assembly = assemble
        ? { horizon: Number(form.get('assemblyHorizon')), vocab: Number(form.get('assemblyVocab')) }
        : undefined;
      create.mutate(
        poolSource === ''
          ? { ...common, domain, assembly, smiles: formText(form, 'smiles') }
          : { ...common, domain, assembly, sourceRunId: poolSource },
      );
    }
  }

  return (
    <form onSubmit={submit} className="flex flex-col gap-3" aria-label="New preference campaign">
      <div className="flex flex-wrap items-end gap-3">
        <Field label="Campaign name">
          <Input name="name" required maxLength={200} defaultValue="Molecule preferences" />
        </Field>
        <Field label="Domain">
          <Select
            name="domain"
            value={domain}
            onChange={(event) => setDomain(event.target.value as 'molecules' | 'tokens')}
          >
            <option value="molecules">molecules (pool)</option>
            <option value="tokens">tokens (synthetic MDP)</option>
          </Select>
        </Field>
        <Field label="Options per query (K)">
          <Input name="K" type="number" min={2} max={6} defaultValue={3} required />
        </Field>
        <Field label="Budget (queries)">
          <Input name="budget" type="number" min={1} max={500} defaultValue={20} required />
        </Field>
        <Field label="Design">
          <Select name="criterion" defaultValue="aopt">
            {Object.entries(criterionLabels).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Regularisation λ">
          <Input name="lambda" type="number" min={0.001} max={1000} step="any" defaultValue={1} required />
        </Field>
        <Field label="Seed (optional)">
          <Input name="seed" type="number" min={0} max={2147483647} placeholder="random" />
        </Field>
        <Field label="Assign to">
          <Select name="assignee" defaultValue="">
            <option value="">anyone (editors)</option>
            {answerers.map((member) => (
              <option key={member.userId} value={member.email}>
                {member.name} ({member.email})
              </option>
            ))}
          </Select>
        </Field>
      </div>
      {domain === 'tokens' ? (
        <div className="flex flex-wrap items-end gap-3">
          <Field label="Horizon (tokens per option)">
            <Input name="horizon" type="number" min={1} max={8} defaultValue={4} required />
          </Field>
          <Field label="Vocabulary">
            <Input name="vocab" type="number" min={2} max={26} defaultValue={8} required />
          </Field>
          <Field label="Features (d)">
            <Input name="dim" type="number" min={1} max={32} defaultValue={8} required />
          </Field>
        </div>
      ) : (
        <div className="flex flex-col gap-3">
          <div className="flex flex-wrap items-end gap-3">
            <Field label="Options are">
              <Select
                name="optionsAre"
                value={assemble ? 'assembled' : 'pool'}
                onChange={(event) => setAssemble(event.target.value === 'assembled')}
              >
                <option value="pool">molecules of the list (pool)</option>
                <option value="assembled">assembled from the list's fragments</option>
              </Select>
            </Field>
            {assemble && (
              <>
                <Field label="Fragments per molecule (H)">
                  <Input name="assemblyHorizon" type="number" min={1} max={4} defaultValue={3} required />
                </Field>
                <Field label="Choices per step (V)">
                  <Input name="assemblyVocab" type="number" min={2} max={8} defaultValue={4} required />
                </Field>
              </>
            )}
          </div>
          <Field label="Pool">
            <Select name="pool" value={poolSource} onChange={(event) => setPoolSource(event.target.value)}>
              <option value="">pasted SMILES, or the default drugs</option>
              {moleculeRuns.map((run) => (
                <option key={run.id} value={run.id}>
                  {run.kind === 'molecule-prior' ? 'samples of prior' : 'results of design'} “{run.name}”
                </option>
              ))}
            </Select>
          </Field>
          {poolSource === '' && (
            <Field label="Molecules (SMILES, one a line, optionally followed by a name)">
              <textarea
                name="smiles"
                rows={4}
                className="rounded-md border border-slate-300 bg-white px-2.5 py-1.5 font-mono text-xs focus:border-brand-500 focus:outline-none focus:ring-2 focus:ring-brand-100"
                placeholder={`Leave empty for the default list of well-known drugs; at most ${MAX_POOL_MOLECULES} molecules.\nCC(=O)Oc1ccccc1C(=O)O aspirin`}
              />
            </Field>
          )}
        </div>
      )}
      <div className="flex items-center gap-3">
        <Button type="submit" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create campaign'}
        </Button>
        <span className="text-xs text-slate-500">
          Each query shows K options; answering designs the next one from the answers so far.
        </span>
      </div>
      <ErrorNote error={create.error} />
    </form>
  );
}
