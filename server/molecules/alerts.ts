/**
 * Structural alerts: the PAINS patterns (Baell & Holloway, J. Med. Chem. 53, 2719 (2010), in the WEHI SMARTS
 * translation) and the medicinal-chemistry filters (MCF) that MOSES applies (Polykovskiy et al., "Molecular
 * Sets (MOSES)", Front. Pharmacol. 11, 565644 (2020)). The SMARTS lists ship in server/molecules/data/ as
 * copied from molecularsets/moses (MIT licence, see data/README.md); another copy can be loaded from a
 * directory given by the operator.
 *
 * As in MOSES, patterns are matched against the molecule with explicit hydrogens, because the PAINS SMARTS
 * name hydrogens ([#1]) explicitly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import type { RDKitModule, RDKitMol, SmartsQuery } from './rdkit';
import { compileSmarts, moleculeGraph } from './rdkit';

export type AlertCatalogName = 'pains' | 'mcf';
export const ALERT_CATALOGS: readonly AlertCatalogName[] = ['pains', 'mcf'];

const CATALOG_FILES: Record<AlertCatalogName, string> = {
  pains: 'moses_wehi_pains.csv',
  mcf: 'moses_mcf_filters.csv',
};

export interface StructuralAlert {
  catalog: AlertCatalogName | 'custom';
  name: string;
  smarts: string;
}

function bundledDataDirectory(): string {
  const candidates = [path.join(process.cwd(), 'server', 'molecules', 'data')];
  try {
    candidates.unshift(path.join(path.dirname(fileURLToPath(import.meta.url)), 'data'));
  } catch {
    // import.meta.url is not a file: URL inside some bundles; the working directory remains.
  }
  return candidates.find((candidate) => fs.existsSync(candidate)) ?? candidates[candidates.length - 1];
}

/** Reads a catalog file: MCF is `names,smarts` with a header; PAINS is `"smarts","<regId=name(n)>"` without. */
export function parseAlertCatalog(catalog: AlertCatalogName, text: string): StructuralAlert[] {
  const rows: string[][] = parse(text, { trim: true, skip_empty_lines: true, relax_column_count: true });
  if (catalog === 'mcf') {
    const [header, ...body] = rows;
    const nameColumn = header.indexOf('names');
    const smartsColumn = header.indexOf('smarts');
    if (nameColumn < 0 || smartsColumn < 0) throw new Error('MCF catalog needs the columns names,smarts');
    return body.map((row) => ({ catalog, name: row[nameColumn], smarts: row[smartsColumn] }));
  }
  return rows.map(([smarts, label]) => ({
    catalog,
    name: /regId=([^(>]+)/.exec(label ?? '')?.[1] ?? label ?? smarts,
    smarts,
  }));
}

/** The alerts of a catalog, from the bundled copy or from `directory` (same file names). */
export function loadAlertCatalog(
  catalog: AlertCatalogName,
  directory: string = bundledDataDirectory(),
): StructuralAlert[] {
  const file = path.join(directory, CATALOG_FILES[catalog]);
  if (!fs.existsSync(file)) throw new Error(`structural-alert catalog ${catalog} not found at ${file}`);
  return parseAlertCatalog(catalog, fs.readFileSync(file, 'utf8'));
}

/** Compiled alerts; free with `dispose()`. */
export interface AlertMatcher {
  readonly alerts: readonly StructuralAlert[];
  /** Names of the alerts the molecule triggers (empty when it passes). */
  triggered(mol: RDKitMol): string[];
  /** True when no alert matches. */
  passes(mol: RDKitMol): boolean;
  dispose(): void;
}

/** Compiles alerts once; a SMARTS RDKit rejects throws with the alert's name. */
export function compileAlerts(rdkit: RDKitModule, alerts: readonly StructuralAlert[]): AlertMatcher {
  const compiled: { alert: StructuralAlert; query: SmartsQuery }[] = [];
  try {
    for (const alert of alerts) {
      try {
        compiled.push({ alert, query: compileSmarts(rdkit, alert.smarts) });
      } catch (error) {
        throw new Error(
          `alert ${alert.catalog}/${alert.name}: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    }
  } catch (error) {
    for (const { query } of compiled) query.dispose();
    throw error;
  }
  const withHydrogens = <T>(mol: RDKitMol, use: (explicit: RDKitMol) => T): T => {
    const copy = mol.copy();
    if (!copy) throw new Error('RDKit could not copy the molecule');
    try {
      copy.add_hs_in_place();
      return use(copy);
    } finally {
      copy.delete();
    }
  };
  return {
    alerts,
    triggered: (mol) =>
      withHydrogens(mol, (explicit) =>
        compiled.filter(({ query }) => query.matches(explicit)).map(({ alert }) => alert.name),
      ),
    passes: (mol) => withHydrogens(mol, (explicit) => !compiled.some(({ query }) => query.matches(explicit))),
    dispose: () => {
      for (const { query } of compiled) query.dispose();
    },
  };
}

/** The atoms MOSES allows (moses.metrics.utils.mol_passes_filters). */
const MOSES_ALLOWED_ELEMENTS = new Set([6, 7, 8, 9, 16, 17, 35, 1]);

/**
 * MOSES's filter (mol_passes_filters): no ring of 8 or more atoms, no charged atom, only C, N, S, O, F, Cl,
 * Br, H, and no MCF or PAINS alert. `matcher` must hold the MCF and PAINS alerts.
 */
export function passesMosesFilters(mol: RDKitMol, matcher: AlertMatcher): boolean {
  const graph = moleculeGraph(mol);
  if (graph.atomRings.some((ring) => ring.length >= 8)) return false;
  if (graph.atoms.some((atom) => atom.formalCharge !== 0 || !MOSES_ALLOWED_ELEMENTS.has(atom.atomicNumber)))
    return false;
  return matcher.passes(mol);
}
