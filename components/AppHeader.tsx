'use client';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { authClient } from './authClient';
import { Button } from './ui';

export function AppHeader() {
  const { data: session, isPending } = authClient.useSession();
  const router = useRouter();
  const pathname = usePathname();
  const shared = pathname.startsWith('/s/');
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex max-w-6xl items-center justify-between px-6 py-3">
        <Link
          href={session ? '/projects' : '/'}
          className="flex items-center gap-2 font-semibold text-brand-700"
        >
          <svg viewBox="0 0 32 32" className="h-6 w-6" aria-hidden>
            <rect width="32" height="32" rx="7" fill="currentColor" />
            <path
              d="M6 22c5 0 5-12 10-12s5 12 10 12"
              fill="none"
              stroke="#fff"
              strokeWidth="3"
              strokeLinecap="round"
            />
          </svg>
          Tributary
        </Link>
        {!shared && !isPending && (
          <nav className="flex items-center gap-3 text-sm">
            {session ? (
              <>
                <Link href="/projects" className="text-slate-600 hover:text-slate-900">
                  Projects
                </Link>
                <span className="text-slate-400" data-testid="signed-in-as">
                  {session.user.email}
                </span>
                <Button
                  variant="secondary"
                  onClick={() => {
                    void authClient.signOut().then(() => router.push('/sign-in'));
                  }}
                >
                  Sign out
                </Button>
              </>
            ) : (
              <>
                <Link href="/sign-in" className="text-slate-600 hover:text-slate-900">
                  Sign in
                </Link>
                <Link href="/sign-up" className="rounded-md bg-brand-600 px-3 py-1.5 font-medium text-white">
                  Create account
                </Link>
              </>
            )}
          </nav>
        )}
      </div>
    </header>
  );
}
