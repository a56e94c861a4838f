/**
 * The real screen through the UI (issue 5, "must show"): Papalexi et al. 2021 (299 genes × 20,729 cells,
 * 25 knockouts, ../shared/data/perturbation) with labels from our guide assignment, written as .h5ad by
 * the real AnnData (peers/write_h5ad.py), uploaded under Files, fitted from the Perturbation tab with one
 * knockout left out, and its dashboard: the leave-one-out table, the prediction explorer, the CLIPR matrix
 * and its network, and the CSV download link. Training is kept short (the figures of a full run are in
 * BENCHMARKS.md, from scripts/papalexi.sh). No page may log a browser console error.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { signUpWithProject, watchConsole } from './support';

const data = path.resolve('..', 'shared', 'data', 'perturbation');
const peerPython = '/usr/bin/python3';
const writeH5ad = path.resolve('..', 'shared', 'peers', 'write_h5ad.py');

/** Labels by our guide assignment, then the .h5ad by AnnData; a missing peer fails loudly. */
function writePapalexiH5ad(dir: string): string {
  if (!fs.existsSync(writeH5ad) || !fs.existsSync(peerPython))
    throw new Error(`the AnnData peer is missing (${writeH5ad}): run ../shared/peers/install-peers.sh`);
  const obs = path.join(dir, 'obs.csv');
  const out = path.join(dir, 'papalexi.h5ad');
  const response = path.join(data, 'papalexi2021_lowmoi_response_matrix.mtx.gz');
  const genes = path.join(data, 'papalexi2021_lowmoi_response_matrix_rows.txt');
  execFileSync(
    process.execPath,
    [
      ...['bin/tributary.mjs', 'perturb', 'assign-guides', '--matrix', response, '--genes', genes],
      ...['--guides', path.join(data, 'papalexi2021_lowmoi_grna_matrix.mtx.gz')],
      ...['--guide-ids', path.join(data, 'papalexi2021_lowmoi_grna_matrix_rows.txt')],
      ...['--guide-targets', path.join(data, 'papalexi2021_lowmoi_grna_target_data_frame.csv')],
      ...['--strategy', 'highest', '--out', obs],
    ],
    { stdio: 'pipe' },
  );
  execFileSync(
    peerPython,
    [
      ...[writeH5ad, '--mtx', response, '--genes', genes, '--obs', obs, '--obs-index', 'cell'],
      ...['--categorical', 'perturbation', '--out', out],
    ],
    { stdio: 'pipe' },
  );
  return out;
}

test('Papalexi 2021 from an AnnData .h5ad: upload, fit with a knockout left out, dashboard', async ({
  browser,
}) => {
  test.setTimeout(300_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tributary-papalexi-'));
  try {
    const h5ad = writePapalexiH5ad(dir);
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    await signUpWithProject(page, 'Rosa', 'rosa@example.org', 'THP-1 knockouts');

    await page.getByRole('tab', { name: 'Files' }).click();
    await page.getByLabel('Upload a file').setInputFiles(h5ad);
    await expect(page.getByText('papalexi.h5ad')).toBeVisible({ timeout: 60_000 });

    await page.getByRole('tab', { name: 'Perturbation' }).click();
    const form = page.getByRole('form', { name: 'Fit LCD to a screen' });
    await form.getByLabel('Name').fill('Papalexi LCD');
    await form.getByLabel('Control label').fill('non-targeting');
    await form.getByLabel('Values').selectOption('counts');
    await form.getByLabel('Training steps').fill('40');
    await form.getByLabel('Leave out single knockouts').fill('IRF1');
    await form.getByRole('button', { name: 'Fit' }).click();

    await page.getByRole('tab', { name: 'Runs' }).click();
    const row = page.getByTestId('runs-table').locator('tbody tr').filter({ hasText: 'Papalexi LCD' });
    await expect(row.locator('[data-status="succeeded"]')).toBeVisible({ timeout: 240_000 });
    await row.getByRole('link').click();
    await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
    const loo = page.getByTestId('perturbation-loo-metrics');
    await expect(loo).toBeVisible();
    await expect(loo.locator('tbody tr').first()).toContainText('IRF1');
    await expect(page.getByTestId('metrics')).toContainText('299');
    await expect(page.locator('[data-plot] .main-svg').first()).toBeVisible();
    // The prediction explorer: the left-out knockout's predicted vs observed vs control cells for a gene.
    const explorer = page.getByTestId('perturbation-explorer');
    await explorer.getByLabel('Condition').selectOption({ label: 'IRF1 (left out)' });
    await explorer.getByLabel('Gene').selectOption({ index: 1 });
    await expect(
      explorer.getByTestId('perturbation-explorer-plot').locator('.main-svg').first(),
    ).toBeVisible();
    await expect(page.getByTestId('perturbation-network').locator('.main-svg').first()).toBeVisible();
    await expect(page.getByTestId('perturbation-download-causal')).toHaveAttribute(
      'href',
      /\/api\/runs\/[0-9a-f-]{36}\/perturbation\/causal\.csv$/,
    );
    expect(errors).toEqual([]);
    await context.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
