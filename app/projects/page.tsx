'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import type { FormEvent } from 'react';
import { useTRPC } from '~/components/trpc';
import { Button, Card, ErrorNote, Field, formText, Input } from '~/components/ui';
import { useRedirectIfSignedOut } from '~/components/useSignedIn';

export default function ProjectsPage() {
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const projects = useQuery(trpc.project.list.queryOptions());
  useRedirectIfSignedOut(projects.error);
  const create = useMutation(
    trpc.project.create.mutationOptions({
      onSuccess: async (project) => {
        await queryClient.invalidateQueries({ queryKey: trpc.project.list.queryKey() });
        router.push(`/projects/${project.id}`);
      },
    }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({ name: formText(form, 'name'), description: formText(form, 'description') });
  }

  return (
    <div className="grid gap-6 md:grid-cols-[2fr_1fr]">
      <Card title="Projects">
        {projects.isPending && <p className="text-sm text-slate-500">Loading…</p>}
        {projects.data?.length === 0 && (
          <p className="text-sm text-slate-500">No projects yet: create one.</p>
        )}
        <ul className="divide-y divide-slate-100">
          {projects.data?.map((project) => (
            <li key={project.id} className="flex items-center justify-between py-3">
              <div>
                <Link href={`/projects/${project.id}`} className="font-medium text-brand-700 hover:underline">
                  {project.name}
                </Link>
                {project.description && <p className="text-sm text-slate-500">{project.description}</p>}
              </div>
              <span className="text-xs text-slate-500">
                {project.role} · {project.runCount} runs
              </span>
            </li>
          ))}
        </ul>
      </Card>
      <Card title="New project">
        <form onSubmit={submit} className="flex flex-col gap-3">
          <Field label="Name">
            <Input name="name" required maxLength={100} />
          </Field>
          <Field label="Description">
            <Input name="description" maxLength={2000} />
          </Field>
          <ErrorNote error={create.error} />
          <Button type="submit" disabled={create.isPending}>
            Create project
          </Button>
        </form>
      </Card>
    </div>
  );
}
