'use client';
/**
 * The Conformers tab (DESIGN.md §4, issue 7 "UI"): enter a SMILES (or pick a well-known drug), generate an
 * MMFF94 ensemble as a job, and open its dashboard (3-D viewer, energies, SDF download).
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { DEFAULT_DRUGS } from '~/server/preferences/data/drugs';
import { useTRPC } from '../trpc';
import { Button, Card, ErrorNote, Field, formText, Input, Select } from '../ui';

export function ConformersSection({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [smiles, setSmiles] = useState('CC(=O)Oc1ccccc1C(=O)O');
  const [method, setMethod] = useState<'ensemble' | 'flow'>('ensemble');
  const datasets = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const sdFiles = (datasets.data ?? []).filter((d) => /\.sdf$/i.test(d.filename));
  const start = useMutation(
    trpc.run.start.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.run.list.queryKey({ projectId }) }),
    }),
  );

  function generate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    start.mutate({
      projectId,
      kind: 'conformers',
      name: formText(form, 'name') || undefined,
      config: {
        smiles,
        n: Number(form.get('n')),
        rmsdThreshold: Number(form.get('rmsd')),
        energy: formText(form, 'energy') as 'mmff' | 'xtb',
        method,
        priorDatasetId: method === 'flow' ? formText(form, 'prior') || undefined : undefined,
      },
    });
  }

  return (
    <Card title="Generate conformers">
      <p className="mb-3 text-sm text-slate-600">
        An ensemble of low-energy 3-D conformers: OpenChemLib embeddings and random torsions, each minimised
        with MMFF94 and kept when it differs from the others by more than the RMSD threshold (heavy atoms,
        symmetry-aware). The torsional-flow method trains a flow on that ensemble's torsion angles (merged
        with the conformers of an uploaded SD file, if you pick one), steers it toward low MMFF94 energy and
        adds its minimised samples. The run's dashboard shows the ensemble in 3-D with its energies, and
        downloads it as SDF.
      </p>
      <form onSubmit={generate} className="flex flex-wrap items-end gap-3" aria-label="Generate conformers">
        <Field label="SMILES">
          <Input
            name="smiles"
            value={smiles}
            onChange={(event) => setSmiles(event.target.value)}
            required
            maxLength={500}
            size={48}
          />
        </Field>
        <Field label="Or pick a drug">
          <Select
            name="drug"
            value=""
            onChange={(event) => {
              if (event.target.value) setSmiles(event.target.value);
            }}
          >
            <option value="">—</option>
            {DEFAULT_DRUGS.map((drug) => (
              <option key={drug.name} value={drug.smiles}>
                {drug.name}
              </option>
            ))}
          </Select>
        </Field>
        <Field label="Name">
          <Input name="name" placeholder="Conformers" />
        </Field>
        <Field label="Conformers">
          <Input name="n" type="number" min={1} max={200} defaultValue={30} required />
        </Field>
        <Field label="RMSD threshold (Å)">
          <Input name="rmsd" type="number" min={0} max={5} step="any" defaultValue={0.5} required />
        </Field>
        <Field label="Method">
          <Select
            name="method"
            value={method}
            onChange={(event) => setMethod(event.target.value as 'ensemble' | 'flow')}
          >
            <option value="ensemble">embeddings + random torsions</option>
            <option value="flow">torsional flow steered to low energy</option>
          </Select>
        </Field>
        {method === 'flow' && (
          <Field label="Second prior (SD file)">
            <Select name="prior" defaultValue="">
              <option value="">none</option>
              {sdFiles.map((file) => (
                <option key={file.id} value={file.id}>
                  {file.name}
                </option>
              ))}
            </Select>
          </Field>
        )}
        <Field label="Energy">
          <Select name="energy" defaultValue="mmff">
            <option value="mmff">MMFF94</option>
            <option value="xtb">MMFF94, then GFN2-xTB single points</option>
          </Select>
        </Field>
        <Button type="submit" disabled={!canEdit || start.isPending}>
          Generate
        </Button>
      </form>
      <div className="mt-2 text-sm">
        <ErrorNote error={start.error} />
        {start.data && (
          <Link className="text-brand-700 underline" href={`/runs/${start.data.id}`}>
            Open the run
          </Link>
        )}
      </div>
    </Card>
  );
}
