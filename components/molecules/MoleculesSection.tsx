'use client';
/**
 * The Molecules tab: train SELFIES flow priors on a library (the bundled drugs or an uploaded SMILES /
 * CSV / SDF file), then design molecules by merging priors under a chemistry reward. Results open as run
 * dashboards (molecule grid, metrics).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { PRESET_REWARD_NAMES } from '~/server/molecules/rewardNames';
import { useTRPC } from '../trpc';
import { Button, Card, ErrorNote, Field, formText, Input, Select } from '../ui';

export function MoleculesSection({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const datasets = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const priors = useQuery(
    trpc.model.list.queryOptions({ projectId, kind: 'molecular-prior' }, { refetchInterval: 5000 }),
  );
  const start = useMutation(
    trpc.run.start.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.run.list.queryKey({ projectId }) }),
    }),
  );
  const campaigns = useQuery(trpc.preference.list.queryOptions({ projectId }));
  const moleculeCampaigns = (campaigns.data ?? []).filter((campaign) => campaign.domain === 'molecules');
  const [chosen, setChosen] = useState<string[]>([]);
  const [rewardError, setRewardError] = useState<{ message: string } | null>(null);

  function trainPrior(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const library = formText(form, 'library');
    start.mutate({
      projectId,
      kind: 'molecule-prior',
      name: formText(form, 'name') || undefined,
      config: {
        library: library === 'demo' ? { kind: 'demo' } : { kind: 'dataset', datasetId: library },
        steps: Number(form.get('steps')),
        hidden: Number(form.get('hidden')),
        representation: formText(form, 'representation') === 'latent' ? 'latent' : 'one-hot',
      },
    });
  }

  /** The reward the form names: none, a preset, or a campaign's learned preference (fetched now). */
  async function chosenReward(value: string) {
    if (value === 'none') return undefined;
    if (value.startsWith('campaign:')) {
      return queryClient.fetchQuery(
        trpc.preference.learnedReward.queryOptions({ campaignId: value.slice('campaign:'.length) }),
      );
    }
    return { kind: 'preset' as const, name: value as (typeof PRESET_REWARD_NAMES)[number] };
  }

  async function design(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setRewardError(null);
    let reward;
    try {
      reward = await chosenReward(formText(form, 'reward'));
    } catch (error) {
      setRewardError({ message: error instanceof Error ? error.message : String(error) });
      return;
    }
    start.mutate({
      projectId,
      kind: 'molecule-design',
      name: formText(form, 'name') || undefined,
      config: {
        priors: chosen,
        operator: formText(form, 'operator') === 'union' ? 'union' : 'intersection',
        reward,
        rewardWeight: Number(form.get('rewardWeight')),
        sampleCount: Number(form.get('sampleCount')),
        steps: Number(form.get('steps')),
        samples: Number(form.get('samples')),
        snapSamples: form.get('snapSamples') === 'on' ? true : undefined,
        surrogatePool: formText(form, 'surrogatePool') ? Number(form.get('surrogatePool')) : undefined,
      },
    });
  }

  return (
    <div className="flex flex-col gap-6">
      <Card title="Train a molecular prior">
        <p className="mb-3 text-sm text-slate-600">
          A flow over SELFIES strings (every sample decodes to a valid molecule), trained on a library: the
          bundled demo drugs or a file you uploaded under Files (SMILES lines, CSV with a SMILES column, or
          SDF).
        </p>
        <form
          onSubmit={trainPrior}
          className="flex flex-wrap items-end gap-3"
          aria-label="Train a molecular prior"
        >
          <Field label="Library">
            <Select name="library" defaultValue="demo">
              <option value="demo">Demo: well-known drugs</option>
              {(datasets.data ?? []).map((dataset) => (
                <option key={dataset.id} value={dataset.id}>
                  {dataset.name}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Name">
            <Input name="name" placeholder="Molecular prior" />
          </Field>
          <Field label="Training steps">
            <Input name="steps" type="number" min={10} max={50000} defaultValue={1500} />
          </Field>
          <Field label="Hidden width">
            <Input name="hidden" type="number" min={16} max={2048} defaultValue={256} />
          </Field>
          <Field label="Flow space">
            <Select name="representation" defaultValue="one-hot">
              <option value="one-hot">One-hot SELFIES</option>
              <option value="latent">Autoencoder latent (64-d)</option>
            </Select>
          </Field>
          <Button type="submit" disabled={!canEdit || start.isPending}>
            Train prior
          </Button>
        </form>
      </Card>

      <Card title="Design molecules">
        {(priors.data ?? []).length === 0 ? (
          <p className="text-sm text-slate-500">Train a prior first; its model appears here.</p>
        ) : (
          <form
            onSubmit={(event) => void design(event)}
            className="flex flex-col gap-3"
            aria-label="Design molecules"
          >
            <fieldset className="flex flex-col gap-1">
              <legend className="text-sm font-medium">Priors to merge (same SELFIES space)</legend>
              {(priors.data ?? []).map((prior) => (
                <label key={prior.id} className="flex items-center gap-2 text-sm">
                  <input
                    type="checkbox"
                    checked={chosen.includes(prior.id)}
                    onChange={(event) =>
                      setChosen((current) =>
                        event.target.checked
                          ? [...current, prior.id]
                          : current.filter((id) => id !== prior.id),
                      )
                    }
                  />
                  {prior.name} · {new Date(prior.createdAt).toLocaleString()}
                </label>
              ))}
            </fieldset>
            <div className="flex flex-wrap items-end gap-3">
              <Field label="Name">
                <Input name="name" placeholder="Molecule design" />
              </Field>
              <Field label="Operator">
                <Select name="operator" defaultValue="intersection">
                  <option value="intersection">intersection (AND)</option>
                  <option value="union">union (OR)</option>
                </Select>
              </Field>
              <Field label="Reward">
                <Select name="reward" defaultValue="qed_and_synthesizability">
                  <option value="none">none (pure merging)</option>
                  {PRESET_REWARD_NAMES.map((name) => (
                    <option key={name}>{name}</option>
                  ))}
                  {moleculeCampaigns.map((campaign) => (
                    <option key={campaign.id} value={`campaign:${campaign.id}`}>
                      learned: {campaign.name} ({campaign.answered} answers)
                    </option>
                  ))}
                </Select>
              </Field>
              <Field label="Reward weight β">
                <Input name="rewardWeight" type="number" min={0.01} max={1000} step="any" defaultValue={5} />
              </Field>
              <Field label="Samples scored per step">
                <Input name="sampleCount" type="number" min={16} max={50000} defaultValue={1000} />
              </Field>
              <Field label="Training steps per step">
                <Input name="steps" type="number" min={1} max={20000} defaultValue={300} />
              </Field>
              <Field label="Molecules to return">
                <Input name="samples" type="number" min={1} max={20000} defaultValue={500} />
              </Field>
              <Field label="Pool per step, rest scored by a surrogate (optional)">
                <Input name="surrogatePool" type="number" min={16} max={50000} placeholder="none" />
              </Field>
              <label className="flex items-center gap-2 text-sm text-slate-700">
                <input type="checkbox" name="snapSamples" /> Train on the decoded molecules (snap)
              </label>
              <Button type="submit" disabled={!canEdit || chosen.length === 0 || start.isPending}>
                Design
              </Button>
            </div>
          </form>
        )}
        <div className="mt-2">
          <ErrorNote error={rewardError ?? start.error ?? priors.error ?? datasets.error} />
        </div>
      </Card>
      <p className="text-sm text-slate-500">Runs appear under Runs; open one to see its molecules.</p>
    </div>
  );
}
