/**
 * RDKit's Python API as the reference for the chemistry tests: Debian's python3-rdkit (with rdkit-data for
 * the SA score), run through /usr/bin/python3 as ../shared/peers/install-peers.sh installs it, either via the
 * project's oracle (../shared/peers/rdkit_oracle.py) or via short scripts for what the oracle does not
 * cover (fingerprints, SMARTS counts, MOSES filters).
 *
 * A missing peer is an error, never a skip: `requireRdkitPeer()` throws and says what to install.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEER_PYTHON = '/usr/bin/python3';

/** ../shared beside the project (DESIGN.md "Data" and "Peers"). */
export const SHARED_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
);
export const RDKIT_ORACLE = path.join(SHARED_DIR, 'peers', 'rdkit_oracle.py');

const INSTALL_HINT =
  'install the RDKit peer: `sudo ../shared/peers/install-peers.sh` (Debian packages python3-rdkit and rdkit-data)';

let peerChecked: { version: string } | undefined;

/** Checks once that the peer works (RDKit importable, SA contrib present); throws with what to install. */
export function requireRdkitPeer(): { version: string } {
  if (peerChecked) return peerChecked;
  if (!fs.existsSync(PEER_PYTHON)) throw new Error(`RDKit peer missing: no ${PEER_PYTHON}; ${INSTALL_HINT}`);
  if (!fs.existsSync(RDKIT_ORACLE))
    throw new Error(`RDKit oracle missing: no ${RDKIT_ORACLE} (../shared/peers)`);
  const probe = spawnSync(
    PEER_PYTHON,
    [
      '-c',
      'import os, rdkit; print(rdkit.__version__); ' +
        'assert any(os.path.exists(os.path.join(d, "sascorer.py")) for d in ' +
        '("/usr/share/RDKit/Contrib/SA_Score", "/usr/lib/python3/dist-packages/rdkit/Contrib/SA_Score")), "no SA_Score"',
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (probe.status !== 0) {
    const why = (probe.stderr || probe.error?.message || '').trim().split('\n').at(-1);
    throw new Error(`RDKit peer not usable (${why}); ${INSTALL_HINT}`);
  }
  peerChecked = { version: probe.stdout.trim() };
  return peerChecked;
}

/** Path of a file in ../shared/data; throws if the shared data folder lacks it. */
export function sharedDataFile(relative: string): string {
  const file = path.join(SHARED_DIR, 'data', relative);
  if (!fs.existsSync(file))
    throw new Error(`shared data file missing: ${file} (see ../shared/data/SOURCES.md)`);
  return file;
}

/** The first `count` SMILES of a one-SMILES-per-line file (first token of each line). */
export function readSmilesColumn(
  file: string,
  count: number,
  column = 0,
  separator: RegExp = /\s+/,
): string[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(separator)[column])
    .filter((smiles): smiles is string => Boolean(smiles))
    .slice(0, count);
}

function runPython(args: string[], input: string, what: string): string {
  requireRdkitPeer();
  const result = spawnSync(PEER_PYTHON, args, {
    encoding: 'utf8',
    input,
    timeout: 300_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
  });
  if (result.status !== 0) {
    const why = (result.stderr || result.error?.message || '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`RDKit peer (${what}) failed: ${why}`);
  }
  return result.stdout;
}

function jsonLines<T>(text: string): T[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

/** One line of `rdkit_oracle.py props`. */
export type OracleProps =
  | {
      input: string;
      valid: true;
      canonical: string;
      qed: number;
      sa: number | null;
      logp: number;
      tpsa: number;
      mw: number;
      hba: number;
      hbd: number;
      rotb: number;
      heavy: number;
      rings: number;
    }
  | { input: string; valid: false };

/** `rdkit_oracle.py props` on the SMILES; also how long it took (seconds, interpreter start included). */
export function oracleProps(smiles: readonly string[]): { rows: OracleProps[]; seconds: number } {
  const started = performance.now();
  const rows = jsonLines<OracleProps>(runPython([RDKIT_ORACLE, 'props'], smiles.join('\n') + '\n', 'props'));
  const seconds = (performance.now() - started) / 1000;
  if (rows.length !== smiles.length)
    throw new Error(`oracle returned ${rows.length} rows for ${smiles.length} SMILES`);
  return { rows, seconds };
}

/** Runs a Python snippet reading JSON from stdin and printing one JSON document. */
function pythonJson<T>(script: string, payload: unknown, what: string): T {
  const prelude =
    'import sys, json\nfrom rdkit import Chem, RDLogger, DataStructs\nRDLogger.DisableLog("rdApp.*")\n';
  return JSON.parse(runPython(['-c', prelude + script], JSON.stringify(payload), what)) as T;
}

/** RDKit's unfolded Morgan count fingerprint (GetMorganFingerprint(mol, radius)) per SMILES, sorted by id. */
export function peerMorganCounts(smiles: readonly string[], radius = 2): [number, number][][] {
  return pythonJson(
    `from rdkit.Chem import rdMolDescriptors
data = json.load(sys.stdin)
out = []
for s in data["smiles"]:
    fp = rdMolDescriptors.GetMorganFingerprint(Chem.MolFromSmiles(s), data["radius"]).GetNonzeroElements()
    out.append(sorted([int(k), int(v)] for k, v in fp.items()))
print(json.dumps(out))`,
    { smiles, radius },
    'Morgan counts',
  );
}

/** Set bits of GetMorganFingerprintAsBitVect and the Tanimoto similarity of consecutive pairs. */
export function peerMorganBits(
  smiles: readonly string[],
  radius: number,
  nBits: number,
): { bits: number[][]; tanimotoToNext: number[] } {
  return pythonJson(
    `from rdkit.Chem import AllChem
data = json.load(sys.stdin)
fps = [AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s), data["radius"], nBits=data["nBits"]) for s in data["smiles"]]
print(json.dumps({"bits": [list(fp.GetOnBits()) for fp in fps],
                  "tanimotoToNext": [DataStructs.TanimotoSimilarity(fps[i], fps[i + 1]) for i in range(len(fps) - 1)]}))`,
    { smiles, radius, nBits },
    'Morgan bits',
  );
}

/** Number of unique substructure matches of each SMARTS in each molecule ([molecule][pattern]). */
export function peerSmartsCounts(smiles: readonly string[], smarts: readonly string[]): number[][] {
  return pythonJson(
    `data = json.load(sys.stdin)
patterns = [Chem.MolFromSmarts(p) for p in data["smarts"]]
print(json.dumps([[len(m.GetSubstructMatches(p)) for p in patterns] for m in (Chem.MolFromSmiles(s) for s in data["smiles"])]))`,
    { smiles, smarts },
    'SMARTS counts',
  );
}

/**
 * MOSES's mol_passes_filters per SMILES, with the MCF and PAINS SMARTS read from `dataDir` (the same files
 * the platform ships): the filter as molecularsets/moses writes it.
 */
export function peerMosesFilters(smiles: readonly string[], dataDir: string): boolean[] {
  return pythonJson(
    `import csv
data = json.load(sys.stdin)
d = data["dir"]
with open(d + "/moses_mcf_filters.csv") as f:
    smarts = [row["smarts"] for row in csv.DictReader(f)]
with open(d + "/moses_wehi_pains.csv") as f:
    smarts += [row[0].strip() for row in csv.reader(f) if row]
filters = [Chem.MolFromSmarts(s) for s in smarts]
allowed = {"C", "N", "S", "O", "F", "Cl", "Br", "H"}
def passes(s):
    mol = Chem.MolFromSmiles(s)
    if mol is None: return False
    ri = mol.GetRingInfo()
    if ri.NumRings() != 0 and any(len(x) >= 8 for x in ri.AtomRings()): return False
    h_mol = Chem.AddHs(mol)
    if any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()): return False
    if any(a.GetSymbol() not in allowed for a in mol.GetAtoms()): return False
    if any(h_mol.HasSubstructMatch(p) for p in filters): return False
    return True
print(json.dumps([passes(s) for s in data["smiles"]]))`,
    { smiles, dir: dataDir },
    'MOSES filters',
  );
}
