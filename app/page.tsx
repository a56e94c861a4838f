import Link from 'next/link';

export default function Home() {
  return (
    <div className="mx-auto max-w-2xl py-12 text-center">
      <h1 className="text-3xl font-semibold text-slate-900">Tributary</h1>
      <p className="mt-4 text-slate-600">
        Design molecules by merging generative flows under rewards, generate low-energy conformers, predict
        perturbation responses from Perturb-seq screens, and choose the preference queries worth asking.
      </p>
      <div className="mt-8 flex justify-center gap-3">
        <Link
          href="/sign-up"
          className="rounded-md bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700"
        >
          Create an account
        </Link>
        <Link
          href="/sign-in"
          className="rounded-md border border-slate-300 bg-white px-4 py-2 font-medium text-slate-700"
        >
          Sign in
        </Link>
      </div>
    </div>
  );
}
