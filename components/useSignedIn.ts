'use client';
import { useRouter } from 'next/navigation';
import { useEffect } from 'react';

/** Sends the browser to the sign-in page when a query says the visitor is not signed in. */
export function useRedirectIfSignedOut(error: unknown) {
  const router = useRouter();
  const code = (error as { data?: { code?: string } } | null)?.data?.code;
  useEffect(() => {
    if (code === 'UNAUTHORIZED') router.replace('/sign-in');
  }, [code, router]);
}
