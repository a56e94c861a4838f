'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from './trpc';
import { Button, ErrorNote, Select } from './ui';

/** Creates read-only share links for a run (the token is shown once) and lists/revokes them. */
export function ShareButton({ runId }: { runId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [expiry, setExpiry] = useState('');
  const [url, setUrl] = useState<string | null>(null);
  const links = useQuery(trpc.share.list.queryOptions({ runId }, { enabled: open }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.share.list.queryKey({ runId }) });
  const create = useMutation(
    trpc.share.create.mutationOptions({
      onSuccess: async (link) => {
        setUrl(`${window.location.origin}${link.path}`);
        await refresh();
      },
    }),
  );
  const revoke = useMutation(trpc.share.revoke.mutationOptions({ onSuccess: refresh }));

  return (
    <div className="relative">
      <Button onClick={() => setOpen(!open)}>Share</Button>
      {open && (
        <div className="absolute right-0 z-10 mt-2 w-96 rounded-lg border border-slate-200 bg-white p-4 shadow-lg">
          <p className="mb-3 text-sm text-slate-600">
            Anyone with the link can view this dashboard, read-only, without an account. Nothing else in the
            project.
          </p>
          <div className="flex items-end gap-2">
            <Select value={expiry} onChange={(e) => setExpiry(e.target.value)} aria-label="Expiry">
              <option value="">Never expires</option>
              <option value="1">Expires in 1 day</option>
              <option value="7">Expires in 7 days</option>
              <option value="30">Expires in 30 days</option>
            </Select>
            <Button
              onClick={() => create.mutate({ runId, expiresInDays: expiry ? Number(expiry) : undefined })}
              disabled={create.isPending}
            >
              Create link
            </Button>
          </div>
          <ErrorNote error={create.error ?? revoke.error} />
          {url && (
            <input
              readOnly
              value={url}
              data-testid="share-url"
              className="mt-3 w-full rounded border border-slate-300 bg-slate-50 px-2 py-1 font-mono text-xs"
              onFocus={(e) => e.target.select()}
            />
          )}
          <ul className="mt-3 divide-y divide-slate-100 text-xs">
            {links.data?.map((link) => (
              <li key={link.id} className="flex items-center justify-between py-1.5">
                <span>
                  created {link.createdAt.toLocaleString()}
                  {link.expiresAt && `, expires ${link.expiresAt.toLocaleDateString()}`}
                </span>
                {link.revokedAt ? (
                  <span className="text-slate-400">revoked</span>
                ) : (
                  <Button variant="danger" onClick={() => revoke.mutate({ linkId: link.id })}>
                    Revoke
                  </Button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
