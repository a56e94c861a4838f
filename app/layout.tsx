import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { AppHeader } from '~/components/AppHeader';
import { Providers } from '~/components/trpc';
import './globals.css';

export const metadata: Metadata = {
  title: 'Tributary',
  description: 'Reward-guided flow merging, conformers, perturbation screens and preference elicitation.',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <AppHeader />
          <main className="mx-auto max-w-6xl px-6 py-8">{children}</main>
        </Providers>
      </body>
    </html>
  );
}
