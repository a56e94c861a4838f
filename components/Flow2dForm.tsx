'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { FormEvent } from 'react';
import { toyDensityNames } from '~/server/jobs/flow2dConfig';
import { useTRPC } from './trpc';
import { Button, ErrorNote, Field, formText, Input, Select } from './ui';

/** Starts the 2-D flow-matching job: train on a toy density, then sample it and map its density. */
export function Flow2dForm({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const start = useMutation(
    trpc.run.start.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.run.list.queryKey({ projectId }) }),
    }),
  );
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    start.mutate({
      projectId,
      kind: 'flow2d',
      config: {
        density: formText(form, 'density') as (typeof toyDensityNames)[number],
        steps: Number(form.get('steps')),
        hidden: Number(form.get('hidden')),
      },
    });
  }
  return (
    <form onSubmit={submit} className="flex flex-wrap items-end gap-3" aria-label="Train a 2-D flow">
      <Field label="Density">
        <Select name="density" defaultValue="moons">
          {toyDensityNames.map((name) => (
            <option key={name}>{name}</option>
          ))}
        </Select>
      </Field>
      <Field label="Training steps">
        <Input name="steps" type="number" min={1} max={100000} defaultValue={1500} />
      </Field>
      <Field label="Hidden width">
        <Input name="hidden" type="number" min={8} max={1024} defaultValue={128} />
      </Field>
      <Button type="submit" disabled={start.isPending}>
        Train flow
      </Button>
      <div className="w-full">
        <ErrorNote error={start.error} />
      </div>
    </form>
  );
}
