'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type ChangeEvent } from 'react';
import { formatBytes } from '~/server/format';
import { useTRPC } from './trpc';
import { ErrorNote } from './ui';

/** The project's uploaded files; uploads stream the raw file to /api/upload. */
export function FilesSection({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const files = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const [error, setError] = useState<{ message: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function upload(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    const query = new URLSearchParams({ projectId, filename: file.name });
    const response = await fetch(`/api/upload?${query.toString()}`, {
      method: 'POST',
      body: file,
      headers: { 'content-type': file.type || 'application/octet-stream' },
    });
    setBusy(false);
    event.target.value = '';
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string };
      setError({ message: body.error ?? `Upload failed (${response.status})` });
    }
    await queryClient.invalidateQueries({ queryKey: trpc.dataset.list.queryKey({ projectId }) });
  }

  return (
    <div className="flex flex-col gap-3">
      {canEdit && (
        <label className="text-sm">
          <span className="mr-3 font-medium text-slate-600">Upload a file</span>
          <input type="file" onChange={(e) => void upload(e)} disabled={busy} />
        </label>
      )}
      <ErrorNote error={error} />
      <ErrorNote error={files.error} />
      {files.data?.length === 0 && <p className="text-sm text-slate-500">No files yet.</p>}
      <ul className="divide-y divide-slate-100 text-sm">
        {files.data?.map((file) => (
          <li key={file.id} className="flex justify-between py-2">
            <span>{file.name}</span>
            <span className="text-slate-500">
              {formatBytes(file.sizeBytes)} · <code className="text-xs">{file.sha256.slice(0, 12)}</code>
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}
