import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // Native, WASM or worker-thread packages run from node_modules, not from the bundle.
  serverExternalPackages: [
    '@electric-sql/pglite',
    'pg-boss',
    'postgres',
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-backend-wasm',
    '@rdkit/rdkit',
    'h5wasm',
  ],
  // `npm run typecheck` (tsc --noEmit, strict) checks every file; doing it again inside the build only costs time.
  typescript: { ignoreBuildErrors: true },
  poweredByHeader: false,
};

export default nextConfig;
