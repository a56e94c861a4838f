'use client';
import { useQuery } from '@tanstack/react-query';
import { use, useState } from 'react';
import { FilesSection } from '~/components/FilesSection';
import { FlowStudio } from '~/components/studio/FlowStudio';
import { MoleculesSection } from '~/components/molecules/MoleculesSection';
import { ConformersSection } from '~/components/conformers/ConformersSection';
import { PerturbationSection } from '~/components/perturbation/PerturbationSection';
import { Flow2dForm } from '~/components/Flow2dForm';
import { CampaignsSection } from '~/components/preferences/CampaignsSection';
import { RunsTable } from '~/components/RunsTable';
import { useTRPC } from '~/components/trpc';
import { Card, ErrorNote } from '~/components/ui';
import { useRedirectIfSignedOut } from '~/components/useSignedIn';

const sections = [
  'Runs',
  'Flow studio',
  'Molecules',
  'Conformers',
  'Perturbation',
  'Preferences',
  'Files',
  'Members',
] as const;
type Section = (typeof sections)[number];

const plannedSections: Partial<Record<Section, string>> = {};

export default function ProjectPage({ params }: { params: Promise<{ projectId: string }> }) {
  const { projectId } = use(params);
  const trpc = useTRPC();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }));
  useRedirectIfSignedOut(project.error);
  const [section, setSection] = useState<Section>('Runs');

  if (project.error) return <ErrorNote error={project.error} />;
  if (!project.data) return <p className="text-sm text-slate-500">Loading…</p>;
  const canEdit = project.data.role !== 'viewer';

  return (
    <div className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold">{project.data.name}</h1>
        {project.data.description && <p className="text-slate-600">{project.data.description}</p>}
        <p className="text-xs text-slate-400">Your role: {project.data.role}</p>
      </div>
      <nav className="flex gap-1 border-b border-slate-200" role="tablist">
        {sections.map((name) => (
          <button
            key={name}
            role="tab"
            aria-selected={section === name}
            onClick={() => setSection(name)}
            className={`-mb-px border-b-2 px-3 py-2 text-sm ${
              section === name
                ? 'border-brand-600 font-medium text-brand-700'
                : 'border-transparent text-slate-500'
            }`}
          >
            {name}
          </button>
        ))}
      </nav>
      {section === 'Runs' && (
        <>
          {canEdit && (
            <Card title="Train a 2-D flow">
              <Flow2dForm projectId={projectId} />
            </Card>
          )}
          <Card title="Runs">
            <RunsTable projectId={projectId} canEdit={canEdit} />
          </Card>
        </>
      )}
      {section === 'Flow studio' && (
        <Card title="Flow studio: merge 2-D flows with rewards">
          {canEdit ? (
            <FlowStudio projectId={projectId} />
          ) : (
            <p className="text-sm text-slate-500">
              Viewers can look at runs; editors compose and run circuits.
            </p>
          )}
        </Card>
      )}
      {plannedSections[section] && (
        <Card title={section}>
          <p className="text-sm text-slate-600">{plannedSections[section]}</p>
          <p className="mt-2 text-xs text-slate-400">Not available yet in this version of Tributary.</p>
        </Card>
      )}
      {section === 'Molecules' && <MoleculesSection projectId={projectId} canEdit={canEdit} />}
      {section === 'Conformers' && <ConformersSection projectId={projectId} canEdit={canEdit} />}
      {section === 'Perturbation' && <PerturbationSection projectId={projectId} canEdit={canEdit} />}
      {section === 'Preferences' && (
        <CampaignsSection projectId={projectId} canEdit={canEdit} members={project.data.members} />
      )}
      {section === 'Files' && (
        <Card title="Files">
          <FilesSection projectId={projectId} canEdit={canEdit} />
        </Card>
      )}
      {section === 'Members' && (
        <Card title="Members">
          <ul className="divide-y divide-slate-100 text-sm">
            {project.data.members.map((member) => (
              <li key={member.userId} className="flex justify-between py-2">
                <span>
                  {member.name} <span className="text-slate-400">{member.email}</span>
                </span>
                <span className="text-slate-500">{member.role}</span>
              </li>
            ))}
          </ul>
        </Card>
      )}
    </div>
  );
}
