'use client';
/** The browser's tRPC client: typed hooks over TanStack Query, one batch endpoint at /api/trpc. */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import { useState, type ReactNode } from 'react';
import superjson from 'superjson';
import type { AppRouter } from '~/server/api/root';

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: {
            staleTime: 2_000,
            // Access errors (not found, forbidden, bad input) will not change on retry.
            retry: (failures, error) =>
              failures < 2 && !/NOT_FOUND|FORBIDDEN|UNAUTHORIZED|BAD_REQUEST/.test(codeOf(error)),
          },
        },
      }),
  );
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/api/trpc', transformer: superjson })] }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}

function codeOf(error: unknown): string {
  const data = (error as { data?: { code?: string } } | null)?.data;
  return data?.code ?? '';
}
