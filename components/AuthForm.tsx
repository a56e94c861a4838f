'use client';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { authClient } from './authClient';
import { Button, Card, ErrorNote, Field, formText, Input } from './ui';

export function AuthForm({ mode }: { mode: 'sign-in' | 'sign-up' }) {
  const router = useRouter();
  const [error, setError] = useState<{ message: string } | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = formText(form, 'email');
    const password = formText(form, 'password');
    setBusy(true);
    setError(null);
    const result =
      mode === 'sign-up'
        ? await authClient.signUp.email({ email, password, name: formText(form, 'name') })
        : await authClient.signIn.email({ email, password });
    setBusy(false);
    if (result.error)
      setError({ message: result.error.message ?? 'Something went wrong; please try again.' });
    else router.push('/projects');
  }

  return (
    <div className="mx-auto max-w-sm">
      <Card title={mode === 'sign-up' ? 'Create your account' : 'Sign in to Tributary'}>
        <form onSubmit={(e) => void submit(e)} className="flex flex-col gap-3">
          {mode === 'sign-up' && (
            <Field label="Name">
              <Input name="name" required autoComplete="name" />
            </Field>
          )}
          <Field label="Email">
            <Input name="email" type="email" required autoComplete="email" />
          </Field>
          <Field label="Password">
            <Input
              name="password"
              type="password"
              required
              minLength={8}
              autoComplete={mode === 'sign-up' ? 'new-password' : 'current-password'}
            />
          </Field>
          <ErrorNote error={error} />
          <Button type="submit" disabled={busy}>
            {mode === 'sign-up' ? 'Create account' : 'Sign in'}
          </Button>
          <p className="text-center text-sm text-slate-500">
            {mode === 'sign-up' ? (
              <>
                Have an account?{' '}
                <Link href="/sign-in" className="text-brand-700 underline">
                  Sign in
                </Link>
              </>
            ) : (
              <>
                New here?{' '}
                <Link href="/sign-up" className="text-brand-700 underline">
                  Create an account
                </Link>
              </>
            )}
          </p>
        </form>
      </Card>
    </div>
  );
}
