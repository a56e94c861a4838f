/**
 * Preference elicitation in a real browser (issue 6, "must show"): a person creates a molecules campaign
 * over the default drugs, answers 10 designed queries with the keyboard (always the molecule with the
 * highest QED, as a consistent chemist would), and the dashboard shows the 10 answers, the estimate moved
 * off zero with QED's weight positive, and how it changed; then the learned reward is picked in a molecule
 * design run (a tiny prior trained from the Molecules tab), whose molecules appear. No page may log a
 * browser console error.
 */
import { expect, test } from '@playwright/test';
import { signUpWithProject, watchConsole } from './support';

test('answer 10 molecule queries by keyboard, see the estimate, then design with the learned reward', async ({
  browser,
}) => {
  // Ten answers, then a prior trained and a design run through the queue: minutes on a busy 2-core machine.
  test.setTimeout(300_000);
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchConsole(page);

  await signUpWithProject(page, 'Pat', 'pat@example.org', 'Preferences study');

  // A molecules campaign over the default list of drugs.
  await page.getByRole('tab', { name: 'Preferences' }).click();
  const form = page.getByRole('form', { name: 'New preference campaign' });
  await form.getByLabel('Campaign name').fill('Drug-likeness');
  await form.getByLabel('Domain').selectOption('molecules');
  await form.getByLabel('Options per query (K)').fill('3');
  await form.getByLabel('Budget (queries)').fill('12');
  await form.getByLabel('Seed (optional)').fill('7');
  await form.getByRole('button', { name: 'Create campaign' }).click();
  await expect(page).toHaveURL(/\/preferences\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  await expect(page.getByRole('heading', { name: 'Drug-likeness' })).toBeVisible();
  await expect(page.getByTestId('answer-count')).toHaveText('0 answers');

  // Ten answers, by keyboard only: the key of the option with the highest QED.
  const query = page.getByTestId('query');
  const latencies: number[] = [];
  for (let i = 1; i <= 10; i++) {
    await expect(query).toHaveAttribute('data-query-index', String(i));
    const options = query.getByTestId('query-option');
    await expect(options).toHaveCount(3);
    await expect(options.first().getByRole('img')).toBeVisible();
    const qed = await options.evaluateAll((cards) =>
      cards.map((card) => Number(card.getAttribute('data-qed'))),
    );
    expect(qed.every((value) => value > 0 && value < 1)).toBe(true);
    const best = qed.indexOf(Math.max(...qed));
    const started = Date.now();
    await page.keyboard.press(String(best + 1));
    await expect(query).toHaveAttribute('data-query-index', String(i + 1));
    latencies.push(Date.now() - started);
  }
  console.log(`[e2e preferences] key press → next query shown: ${latencies.join(', ')} ms`);
  expect(Math.max(...latencies)).toBeLessThan(2000);
  await expect(page.getByTestId('query-progress')).toContainText('10 answered of 12');

  // The dashboard: 10 answers, an estimate off zero with QED pulling up, its change per answer.
  await expect(page.getByTestId('answer-count')).toHaveText('10 answers');
  await expect(page.getByTestId('answer-history').locator('tbody tr')).toHaveCount(10);
  const qedRow = page.getByTestId('estimate-table').locator('tr[data-feature="QED"]');
  await expect
    .poll(async () => Number(await qedRow.getAttribute('data-theta')), { timeout: 10_000 })
    .toBeGreaterThan(0);
  await expect(page.locator('[data-plot="estimate"] .main-svg').first()).toBeVisible();
  await expect(page.locator('[data-plot="theta-history"] .main-svg').first()).toBeVisible();

  // A skip with S moves on without an answer.
  await page.keyboard.press('s');
  await expect(query).toHaveAttribute('data-query-index', '12');
  await expect(page.getByTestId('query-progress')).toContainText('10 answered, 1 skipped of 12');

  // The campaign is listed in the project with its progress.
  await page.getByRole('link', { name: '← Project' }).click();
  await page.getByRole('tab', { name: 'Preferences' }).click();
  await expect(page.getByTestId('campaigns-table')).toContainText('Drug-likeness');
  await expect(page.getByTestId('campaigns-table')).toContainText('10 answered, 1 skipped of 12');

  // The learned reward in molecule design: a (tiny) prior on the demo drugs, then a design run whose
  // reward is the campaign's estimate.
  await page.getByRole('tab', { name: 'Molecules' }).click();
  const train = page.getByRole('form', { name: 'Train a molecular prior' });
  await train.getByLabel('Name').fill('Drugs prior');
  await train.getByLabel('Training steps').fill('30');
  await train.getByLabel('Hidden width').fill('32');
  await train.getByRole('button', { name: 'Train prior' }).click();
  const designForm = page.getByRole('form', { name: 'Design molecules' });
  await expect(designForm).toBeVisible({ timeout: 90_000 });
  await designForm.getByRole('checkbox').first().check();
  await designForm.getByLabel('Name').fill('Designed for Pat');
  // (A label's accessible name includes its select's current value, so the select is found by name.)
  await designForm
    .locator('select[name="reward"]')
    .selectOption({ label: 'learned: Drug-likeness (10 answers)' });
  await designForm.getByLabel('Samples scored per step').fill('64');
  await designForm.getByLabel('Training steps per step').fill('10');
  await designForm.getByLabel('Molecules to return').fill('30');
  await designForm.getByRole('button', { name: 'Design' }).click();
  await page.getByRole('tab', { name: 'Runs' }).click();
  // The runs table refreshes every second; open the run by its address rather than racing a re-render.
  const runLink = page.getByRole('link', { name: 'Designed for Pat' });
  await page.goto((await runLink.getAttribute('href')) ?? '/');
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  // The molecule grid appears when the run has succeeded; its config names the learned reward.
  await expect(page.getByTestId('molecule-grid').getByRole('img').first()).toBeVisible({ timeout: 120_000 });
  await expect(page.getByText(/Preferences: Drug-likeness/)).toBeVisible();

  expect(errors).toEqual([]);
});
