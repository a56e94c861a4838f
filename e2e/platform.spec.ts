/**
 * The whole path in a real browser: sign up, create a project, train a 2-D flow through the queue,
 * watch it finish, open its dashboard, share it, open the link signed out (read-only), and see a
 * second user refused. No page may log a browser console error along the way.
 */
import { expect, test, type Browser } from '@playwright/test';
import { watchConsole } from './support';

const password = 'correct horse battery';

/** Records console errors and uncaught exceptions of a page. */

async function signUp(browser: Browser, name: string, email: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchConsole(page);
  await page.goto('/sign-up');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/projects$/);
  await expect(page.getByTestId('signed-in-as')).toHaveText(email);
  return { context, page, errors };
}

test('sign up, train a flow, share its dashboard; strangers are refused', async ({ browser }) => {
  const alice = await signUp(browser, 'Alice', 'alice@example.org');
  const { page } = alice;

  // A project.
  await page.getByLabel('Name').fill('Moons study');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page).toHaveURL(/\/projects\/[0-9a-f-]{36}$/);
  const projectUrl = page.url();
  for (const section of ['Runs', 'Molecules', 'Conformers', 'Perturbation', 'Preferences']) {
    await expect(page.getByRole('tab', { name: section })).toBeVisible();
  }

  // The 2-D flow job, watched live until done.
  const form = page.getByRole('form', { name: 'Train a 2-D flow' });
  await form.getByLabel('Training steps').fill('300');
  await form.getByLabel('Hidden width').fill('64');
  await form.getByRole('button', { name: 'Train flow' }).click();
  const row = page.getByTestId('runs-table').locator('tbody tr').first();
  await expect(row.locator('[data-status="running"]')).toBeVisible({ timeout: 60_000 });
  await expect(row.getByText(/ETA/)).toBeVisible();
  await expect(row.locator('[data-status="succeeded"]')).toBeVisible({ timeout: 150_000 });
  await expect(row.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');

  // Its dashboard.
  await row.getByRole('link').click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { name: '2-D flow on moons' })).toBeVisible();
  await expect(page.getByTestId('metrics')).toContainText('finalLoss');
  await expect(page.getByTestId('backend')).toContainText(/backend (wasm|cpu|tensorflow)/);
  await expect(page.locator('[data-plot="loss"] .main-svg').first()).toBeVisible();
  await expect(page.locator('[data-plot="density"] .main-svg').first()).toBeVisible();
  await expect(page.getByTestId('run-log')).toContainText('Tensor backend');

  // Share it.
  await page.getByRole('button', { name: 'Share', exact: true }).click();
  await page.getByRole('button', { name: 'Create link' }).click();
  const shareUrl = await page.getByTestId('share-url').inputValue();
  expect(shareUrl).toMatch(/\/s\/[A-Za-z0-9_-]{43}$/);

  // The link, in a fresh context without an account: the dashboard, read-only.
  const stranger = await browser.newContext();
  const sharedPage = await stranger.newPage();
  const sharedErrors = watchConsole(sharedPage);
  await sharedPage.goto(shareUrl);
  await expect(sharedPage.getByTestId('shared-banner')).toBeVisible();
  await expect(sharedPage.getByRole('heading', { name: '2-D flow on moons' })).toBeVisible();
  await expect(sharedPage.locator('[data-plot="density"] .main-svg').first()).toBeVisible();
  await expect(sharedPage.getByRole('button', { name: 'Share', exact: true })).toHaveCount(0);
  await expect(sharedPage.getByRole('button', { name: 'Cancel' })).toHaveCount(0);
  await expect(sharedPage.getByRole('link', { name: /Moons study/ })).toHaveCount(0);

  // A second user cannot open the first user's project.
  const bob = await signUp(browser, 'Bob', 'bob@example.org');
  await bob.page.goto(projectUrl);
  await expect(
    bob.page.getByRole('alert').filter({ hasText: 'Project not found, or you are not a member of it.' }),
  ).toBeVisible();
  await expect(bob.page.getByText('Moons study')).toHaveCount(0);

  expect(alice.errors).toEqual([]);
  expect(sharedErrors).toEqual([]);
  // The refusal is an HTTP 404 from the API, which Chromium itself reports as a failed resource load;
  // that one line is expected, anything else is not.
  expect(bob.errors.filter((e) => !/Failed to load resource: .*404/.test(e))).toEqual([]);
});
