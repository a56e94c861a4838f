/**
 * The RDKit peer (../shared/peers/rdkit_oracle.py, Debian's python3-rdkit) for the conformer tests: MMFF94
 * energies of given structures, COV/MAT RMSD between two SD files, and short scripts for what the oracle does
 * not print. A missing peer fails the test with the install command (requireRdkitPeer names
 * ../shared/peers/install-peers.sh); it is never skipped.
 */
import { spawnSync } from 'node:child_process';
import { PEER_PYTHON, RDKIT_ORACLE, requireRdkitPeer } from '../support/rdkitPeer';

export function runPeer(args: string[], input: string, what: string): string {
  requireRdkitPeer();
  const result = spawnSync(PEER_PYTHON, args, {
    encoding: 'utf8',
    input,
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
  if (result.status !== 0) {
    const why = (result.stderr || result.error?.message || '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`RDKit peer (${what}) failed: ${why} (peers: ../shared/peers/install-peers.sh)`);
  }
  return result.stdout;
}

export function jsonLines<T>(text: string): T[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

/** `rdkit_oracle.py energy`: RDKit's MMFF94 single-point energy of each SDF record. */
export function oracleEnergies(sdf: string): { name: string; canonical: string; energy: number | null }[] {
  return jsonLines(runPeer([RDKIT_ORACLE, 'energy'], sdf, 'energy'));
}

export interface OracleRmsdRow {
  canonical: string;
  reference: number;
  generated: number;
  'cov_r@0.75': number;
  'cov_r@1.25': number;
  'cov_p@0.75': number;
  'cov_p@1.25': number;
  mat_r: number;
  mat_p: number;
}

/** `rdkit_oracle.py rmsd --ref --gen`: COV/MAT per molecule. */
export function oracleRmsd(referenceFile: string, generatedFile: string): OracleRmsdRow[] {
  return jsonLines(
    runPeer([RDKIT_ORACLE, 'rmsd', '--ref', referenceFile, '--gen', generatedFile], '', 'rmsd'),
  );
}

/** Runs a Python snippet (RDKit imported as Chem, AllChem) that reads stdin and prints one JSON document. */
export function peerScript<T>(script: string, input: string, what: string): T {
  const prelude =
    'import sys, json\nfrom rdkit import Chem, RDLogger\nfrom rdkit.Chem import AllChem, rdMolAlign\nRDLogger.DisableLog("rdApp.*")\n';
  return JSON.parse(runPeer(['-c', prelude + script], input, what)) as T;
}
