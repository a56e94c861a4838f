/**
 * Running PyTorch beside our engine in the same benchmark run (DESIGN.md "peers/"): Debian's interpreter
 * (/usr/bin/python3, where install-peers.sh puts python3-torch), one JSON line back, or a reason why not.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEER_PYTHON = '/usr/bin/python3';

/** peers/ lives beside the project (../shared/peers), as DESIGN.md lays it out. */
export const defaultTorchFlowPeer = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'shared',
  'peers',
  'torch_flow_bench.py',
);

export type PeerResult = { ok: true; json: Record<string, unknown> } | { ok: false; reason: string };

export interface PeerThreads {
  /** torch's intra-op pool (OpenMP). */
  torchThreads: number;
  /** The BLAS under torch: Debian's torch calls OpenBLAS, whose pool ignores torch.set_num_threads. */
  blasThreads: number;
}

/** Runs `python3 args…` with the given thread counts and parses the last stdout line as JSON. */
export function runPython(args: string[], threads: PeerThreads, timeoutMs: number): PeerResult {
  if (!fs.existsSync(PEER_PYTHON)) return { ok: false, reason: `${PEER_PYTHON} not found` };
  const threadEnv = {
    OMP_NUM_THREADS: String(threads.torchThreads),
    MKL_NUM_THREADS: String(threads.torchThreads),
    OPENBLAS_NUM_THREADS: String(threads.blasThreads),
  };
  const result = spawnSync(PEER_PYTHON, args, {
    encoding: 'utf8',
    env: { ...process.env, ...threadEnv },
    timeout: timeoutMs,
  });
  if (result.error) return { ok: false, reason: `python3 failed to run (${result.error.message})` };
  if (result.status !== 0) {
    const lastError = result.stderr.trim().split('\n').at(-1) ?? '';
    return { ok: false, reason: `python3 exited with ${result.status}: ${lastError}` };
  }
  const lastLine = result.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return { ok: true, json: JSON.parse(lastLine) as Record<string, unknown> };
  } catch {
    return { ok: false, reason: `python3 printed no JSON line (${lastLine.slice(0, 120)})` };
  }
}

/** Whether torch imports under /usr/bin/python3; the reason when not. */
export function torchAvailable(): { ok: true; version: string } | { ok: false; reason: string } {
  const probe = runPython(
    ['-c', 'import json, torch; print(json.dumps({"version": torch.__version__}))'],
    { torchThreads: 1, blasThreads: 1 },
    60_000,
  );
  if (!probe.ok) {
    return {
      ok: false,
      reason: `torch not importable (${probe.reason}); install with shared/peers/install-peers.sh`,
    };
  }
  return { ok: true, version: String(probe.json.version) };
}
