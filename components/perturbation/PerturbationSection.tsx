'use client';
/**
 * The Perturbation tab: fit LCD to an uploaded Perturb-seq screen (.h5ad or a cells × genes CSV, under
 * Files), which predicts held-out combinations and gives CLIPR's causal matrix. Results open as run
 * dashboards.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { useTRPC } from '../trpc';
import { Button, Card, ErrorNote, Field, formText, Input, Select } from '../ui';

export function PerturbationSection({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const datasets = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const screens = (datasets.data ?? []).filter((d) => /\.(h5ad|csv|csv\.gz)$/i.test(d.filename));
  const start = useMutation(
    trpc.run.start.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.run.list.queryKey({ projectId }) }),
    }),
  );

  function fit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const holdOut = formText(form, 'holdOut');
    const holdOutSingles = formText(form, 'holdOutSingles')
      .split(',')
      .map((gene) => gene.trim())
      .filter((gene) => gene !== '');
    start.mutate({
      projectId,
      kind: 'perturbation-fit',
      name: formText(form, 'name') || undefined,
      config: {
        datasetId: formText(form, 'dataset'),
        perturbationKey: formText(form, 'key'),
        control: formText(form, 'control'),
        input: formText(form, 'input') as 'auto' | 'counts' | 'lognorm',
        steps: Number(form.get('steps')),
        holdOutCombinations: holdOut === '' ? undefined : Number(holdOut),
        holdOutSingles,
      },
    });
  }

  return (
    <Card title="Fit LCD to a screen">
      <p className="mb-3 text-sm text-slate-600">
        Upload a screen under Files (an <code>.h5ad</code> written by AnnData, or a cells × genes CSV with a
        label column; labels such as <code>control</code>, <code>G3</code>, <code>G3+G7</code>). The run
        preprocesses it, holds out some combinations, trains LCD, compares its predictions with the control
        and additive baselines, and maps direct gene–gene effects with CLIPR. Screens of single knockouts only
        (such as Papalexi 2021) are scored by leaving out the knockouts you list, one model each.{' '}
        <code>npx tributary perturb synth</code> writes synthetic screens with their true matrix.
      </p>
      {screens.length === 0 ? (
        <p className="text-sm text-slate-500">No .h5ad or .csv file uploaded yet.</p>
      ) : (
        <form onSubmit={fit} className="flex flex-wrap items-end gap-3" aria-label="Fit LCD to a screen">
          <Field label="Screen">
            <Select name="dataset">
              {screens.map((dataset) => (
                <option key={dataset.id} value={dataset.id}>
                  {dataset.name}
                </option>
              ))}
            </Select>
          </Field>
          <Field label="Name">
            <Input name="name" placeholder="LCD + CLIPR" />
          </Field>
          <Field label="Label column">
            <Input name="key" defaultValue="perturbation" />
          </Field>
          <Field label="Control label">
            <Input name="control" defaultValue="control" />
          </Field>
          <Field label="Values">
            <Select name="input" defaultValue="auto">
              <option value="auto">auto (counts if integers)</option>
              <option value="counts">raw counts</option>
              <option value="lognorm">log-normalised (use as is)</option>
            </Select>
          </Field>
          <Field label="Training steps">
            <Input name="steps" type="number" min={10} max={50000} defaultValue={2000} />
          </Field>
          <Field label="Held-out combinations">
            <Input name="holdOut" type="number" min={0} max={10000} placeholder="≈ 1/5" />
          </Field>
          <Field label="Leave out single knockouts">
            <Input name="holdOutSingles" placeholder="e.g. IRF1, STAT2" />
          </Field>
          <Button type="submit" disabled={!canEdit || start.isPending}>
            Fit
          </Button>
        </form>
      )}
      <div className="mt-2">
        <ErrorNote error={start.error ?? datasets.error} />
      </div>
    </Card>
  );
}
