'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type ChangeEvent } from 'react';
import { formatBytes } from '~/server/format';
import { useTRPC } from './trpc';
import { ErrorNote, ProgressBar } from './ui';

/** The project's uploaded files; uploads stream the raw file to /api/upload. */
export function FilesSection({ projectId, canEdit }: { projectId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const files = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const [error, setError] = useState<{ message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  /** Fraction of the file sent, while an upload runs (fetch cannot report it; XMLHttpRequest can). */
  const [sent, setSent] = useState<number | null>(null);

  function send(file: File): Promise<{ status: number; body: string }> {
    const query = new URLSearchParams({ projectId, filename: file.name });
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open('POST', `/api/upload?${query.toString()}`);
      request.setRequestHeader('content-type', file.type || 'application/octet-stream');
      request.upload.onprogress = (progress) => {
        if (progress.lengthComputable) setSent(progress.loaded / progress.total);
      };
      request.onload = () => resolve({ status: request.status, body: request.responseText });
      request.onerror = () => reject(new Error('Upload failed: the connection was lost'));
      request.onabort = () => reject(new Error('Upload cancelled'));
      request.ontimeout = () => reject(new Error('Upload failed: the server did not answer in time'));
      request.send(file);
    });
  }

  async function upload(event: ChangeEvent<HTMLInputElement>) {
    const input = event.target;
    const file = input.files?.[0];
    if (!file) return;
    setBusy(true);
    setError(null);
    setSent(0);
    try {
      const response = await send(file);
      if (response.status < 200 || response.status >= 300) {
        let message = `Upload failed (${response.status})`;
        try {
          message = (JSON.parse(response.body) as { error?: string }).error ?? message;
        } catch {
          // not JSON: keep the status line
        }
        setError({ message });
      }
    } catch (failure) {
      setError({ message: (failure as Error).message });
    } finally {
      setBusy(false);
      setSent(null);
      input.value = '';
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
      {sent !== null && (
        <div className="flex items-center gap-3 text-sm text-slate-600" data-testid="upload-progress">
          <ProgressBar fraction={sent} />
          <span>{Math.round(sent * 100)}% sent</span>
        </div>
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
