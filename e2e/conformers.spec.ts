/**
 * The Conformers tab in a real browser (issue 7 "UI"): enter a SMILES, generate an ensemble through the
 * queue, open the run, see it in the 3-D viewer (a WebGL canvas), step through the conformers with their
 * energies, and download the SD file with one record per conformer. No console errors.
 */
import fs from 'node:fs';
import { expect, test } from '@playwright/test';
import { signUpWithProject, watchConsole } from './support';

test('generate conformers, view them in 3-D, download the SDF', async ({ browser }) => {
  test.setTimeout(240_000);
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const errors = watchConsole(page);
  await signUpWithProject(page, 'Cleo', 'cleo@example.org', 'Shapes');

  await page.getByRole('tab', { name: 'Conformers' }).click();
  const form = page.getByRole('form', { name: 'Generate conformers' });
  await form.getByLabel('SMILES').fill('CCCCOC(C)=O');
  await form.getByLabel('Name').fill('Butyl acetate');
  await form.getByLabel('Conformers', { exact: true }).fill('6');
  await form.getByRole('button', { name: 'Generate' }).click();
  await page.getByRole('link', { name: 'Open the run' }).click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);

  const viewer = page.getByTestId('conformer-viewer');
  await expect(viewer.locator('canvas')).toBeVisible({ timeout: 180_000 });
  const table = page.getByTestId('conformer-table');
  const rows = await table.locator('tbody tr').count();
  expect(rows).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId('conformer-energy')).toContainText('above the lowest');
  await table.locator('tbody tr').nth(1).click();
  await expect(page.getByText(`Conformer 2 of ${rows}`)).toBeVisible();
  await expect(page.locator('[data-plot="conformer energy histogram"] .main-svg').first()).toBeVisible();

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download SDF' }).click(),
  ]);
  const sdf = fs.readFileSync(await download.path(), 'utf8');
  expect(sdf.split('$$$$').filter((record) => record.trim() !== '')).toHaveLength(rows);
  expect(sdf).toContain('<ENERGY>');
  expect(errors).toEqual([]);
  await context.close();
});
