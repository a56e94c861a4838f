/**
 * The flow studio: the example circuit AND(OR(p1, p2), p3) with a reward, two levels deep, composed in
 * the node editor, run through the queue, and shown per node beside its exact target.
 */
import { expect, test } from '@playwright/test';

test('a nested circuit runs from the studio and shows every node against its exact target', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));

  await page.goto('/sign-up');
  await page.getByLabel('Name').fill('Carol');
  await page.getByLabel('Email').fill('carol@example.org');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/projects$/);
  await page.getByLabel('Name').fill('Circuits');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page).toHaveURL(/\/projects\/[0-9a-f-]{36}$/);

  await page.getByRole('tab', { name: 'Flow studio' }).click();
  for (const name of ['p1', 'p2', 'p3', 'OR', 'AND'])
    await expect(page.getByTestId(`studio-node-${name}`)).toBeVisible();
  await page.getByRole('button', { name: 'Run circuit' }).click();
  await expect(page.getByText('Queued: follow it in Runs.')).toBeVisible();

  await page.getByRole('tab', { name: 'Runs' }).click();
  const row = page.getByTestId('runs-table').locator('tbody tr').first();
  await expect(row.getByRole('link', { name: 'RFM circuit' })).toBeVisible();
  await expect(row.locator('[data-status="succeeded"]')).toBeVisible({ timeout: 150_000 });
  await row.getByRole('link').click();

  await expect(page.getByTestId('rfm-node-root')).toContainText('AND');
  await expect(page.getByTestId('rfm-node-root.0')).toContainText('OR');
  await expect(page.getByTestId('rfm-tv').first()).toContainText(
    /Total variation to the exact target: 0\.\d+/,
  );
  await expect(page.locator('[data-plot="root-exact"] .main-svg').first()).toBeVisible();
  await expect(page.locator('[data-plot="root-result"] .main-svg').first()).toBeVisible();
  expect(errors).toEqual([]);
});
