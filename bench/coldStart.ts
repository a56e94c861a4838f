/**
 * Cold start: time from launching the server (`tsx server/main.ts`, the app already built) to the
 * first page served, on a fresh data folder (PGlite created and migrated, demo seeded) and again
 * on the same folder (a restart). Usage: npx tsx bench/coldStart.ts. Prints one JSON line.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function timeToFirstPage(dataDir: string): Promise<number> {
  const port = await freePort();
  const began = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      TRIBUTARY_DATA_DIR: dataDir,
      TRIBUTARY_DEMO: 'true',
    },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/sign-in`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return (performance.now() - began) / 1000;
      if (performance.now() - began > 120_000) throw new Error('server did not serve a page within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

if (!fs.existsSync('.next/BUILD_ID')) throw new Error('Build the app first (npm run build).');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-cold-'));
const firstStartSeconds = await timeToFirstPage(dataDir);
const restartSeconds = await timeToFirstPage(dataDir);
fs.rmSync(dataDir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    bench: 'cold-start',
    firstStartSeconds: Number(firstStartSeconds.toFixed(2)),
    restartSeconds: Number(restartSeconds.toFixed(2)),
    node: process.version,
    cpus: os.cpus().length,
    date: new Date().toISOString(),
  }),
);
