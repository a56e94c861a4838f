/**
 * Preference campaigns through the API (issue 6 item 4), on embedded PGlite and on a real PostgreSQL
 * server: creating a campaign with its first query designed, answering and skipping, stale and repeated
 * answers, access control, the molecule pool (default drugs and pasted SMILES), and θ̂ learning a simulated
 * user's θ* from 20 answers with the next query designed in well under a second.
 */
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimulatedUser, cosineError } from '../../server/engines/pbrl';
import { createRng } from '../../server/engines/random';
import { loadRDKit, parseSmiles } from '../../server/molecules/rdkit';
import { DEFAULT_DRUGS } from '../../server/preferences/data/drugs';
import type { Runtime } from '../../server/runtime';
import { callerFor, createTestRuntime, databaseModes, signUp } from '../support/runtime';

type Caller = Awaited<ReturnType<typeof callerFor>>;

async function rejection(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof TRPCError)) throw new Error(`expected a TRPCError, got ${String(error)}`);
  return error;
}

/** The pending query of a campaign (fails the test when the campaign has none). */
async function pending(caller: Caller, campaignId: string) {
  const { query } = await caller.preference.next({ campaignId });
  if (!query) throw new Error('the campaign has no pending query');
  return query;
}

function optionFeatures(options: { features: number[] }[]): Float64Array {
  return Float64Array.from(options.flatMap((option) => option.features));
}

describe.each(databaseModes)('preference campaigns on %s', (mode) => {
  let runtime: Runtime;
  let alice: Caller;
  let bob: Caller;
  let carol: Caller;
  let projectId: string;

  beforeAll(async () => {
    runtime = await createTestRuntime(mode);
    alice = await callerFor(runtime, await signUp(runtime, 'alice@example.org'));
    bob = await callerFor(runtime, await signUp(runtime, 'bob@example.org'));
    carol = await callerFor(runtime, await signUp(runtime, 'carol@example.org'));
    projectId = (await alice.project.create({ name: 'Preferences' })).id;
  });
  afterAll(async () => {
    await runtime?.close();
  });

  it('creates a tokens campaign with its first query designed, and lists it', async () => {
    const { id } = await alice.preference.create({
      projectId,
      name: 'Token study',
      domain: 'tokens',
      K: 3,
      horizon: 3,
      vocab: 6,
      dim: 4,
      budget: 5,
      seed: 11,
    });
    const query = await pending(alice, id);
    expect(query.index).toBe(1);
    expect(query.options).toHaveLength(3);
    for (const option of query.options) {
      expect(option.tokens).toHaveLength(3);
      expect(option.tokens?.every((token) => /^[A-F]$/.test(token))).toBe(true);
      expect(option.features).toHaveLength(4);
    }
    expect(query.featureNames).toEqual(['φ1', 'φ2', 'φ3', 'φ4']);
    // A designed query compares different objects.
    expect(new Set(query.options.map((option) => option.label)).size).toBe(3);

    const list = await alice.preference.list({ projectId });
    expect(list.map((campaign) => campaign.name)).toContain('Token study');
    const { campaign, answers, role } = await alice.preference.get({ campaignId: id });
    expect(role).toBe('owner');
    expect(campaign).toMatchObject({ domain: 'tokens', status: 'active', answered: 0, pendingIndex: 1 });
    expect(campaign.config).toMatchObject({
      K: 3,
      horizon: 3,
      criterion: 'aopt',
      budget: 5,
      lambda: 1,
      seed: 11,
    });
    expect(campaign.theta).toEqual([0, 0, 0, 0]);
    expect(answers).toEqual([]);
  });

  it('takes answers and skips, refuses stale and conflicting ones, accepts a repeated one', async () => {
    const { id: campaignId } = await alice.preference.create({
      projectId,
      name: 'Answers',
      domain: 'tokens',
      K: 3,
      horizon: 3,
      vocab: 6,
      dim: 4,
      budget: 3,
      seed: 5,
    });
    const first = await pending(alice, campaignId);
    const answered = await alice.preference.answer({ campaignId, queryIndex: 1, choice: 2 });
    expect(answered).toMatchObject({ duplicate: false, index: 1, choice: 2, answered: 1, skipped: 0 });
    expect(answered.theta.some((value) => value !== 0)).toBe(true);
    expect(answered.next?.index).toBe(2);
    expect(answered.timings.totalMs).toBeLessThan(2000);

    // The same answer again (a double submit): stored once, reported as a duplicate.
    const again = await alice.preference.answer({ campaignId, queryIndex: 1, choice: 2 });
    expect(again).toMatchObject({ duplicate: true, index: 1, answered: 1 });
    expect(again.next?.index).toBe(2);
    // A different answer to a query already answered, and an answer to a query not yet asked.
    const conflicting = await rejection(alice.preference.answer({ campaignId, queryIndex: 1, choice: 0 }));
    expect(conflicting.code).toBe('CONFLICT');
    expect(conflicting.message).toMatch(/already answered \(option 3 chosen\)/);
    const ahead = await rejection(alice.preference.answer({ campaignId, queryIndex: 3, choice: 0 }));
    expect(ahead.code).toBe('CONFLICT');
    expect(ahead.message).toMatch(/query 2 is/);
    const outOfRange = await rejection(alice.preference.answer({ campaignId, queryIndex: 2, choice: 3 }));
    expect(outOfRange.code).toBe('BAD_REQUEST');

    // A skip leaves θ̂ as it was and moves on to another query.
    const second = await pending(alice, campaignId);
    const skipped = await alice.preference.answer({ campaignId, queryIndex: 2, choice: 'skip' });
    expect(skipped).toMatchObject({ duplicate: false, index: 2, choice: null, answered: 1, skipped: 1 });
    expect(skipped.theta).toEqual(answered.theta);
    const third = await pending(alice, campaignId);
    expect(third.index).toBe(3);
    expect(third.options.map((option) => option.label)).not.toEqual(second.options.map((o) => o.label));

    // The last query of the budget completes the campaign.
    const last = await alice.preference.answer({ campaignId, queryIndex: 3, choice: 0 });
    expect(last).toMatchObject({ status: 'completed', answered: 2, skipped: 1, next: null });
    expect((await alice.preference.next({ campaignId })).query).toBeNull();
    const late = await rejection(alice.preference.answer({ campaignId, queryIndex: 4, choice: 0 }));
    expect(late.code).toBe('CONFLICT');
    expect(late.message).toMatch(/budget of 3/);

    const { campaign, answers } = await alice.preference.get({ campaignId });
    expect(campaign).toMatchObject({ status: 'completed', answered: 2, skipped: 1, pendingIndex: null });
    expect(answers.map((answer) => [answer.index, answer.choice, answer.skipped])).toEqual([
      [1, 2, false],
      [2, null, true],
      [3, 0, false],
    ]);
    expect(answers[0].options.map((option) => option.label)).toEqual(first.options.map((o) => o.label));
    expect(answers[0].answeredByEmail).toBe('alice@example.org');
    expect(answers[0].thetaAfter).toEqual(answered.theta);
    expect(answers[2].thetaAfter).toEqual(campaign.theta);
    expect(answers.every((answer) => answer.secondsTaken >= 0)).toBe(true);
  });

  it('stores a double submit sent at once only once', async () => {
    const { id: campaignId } = await alice.preference.create({
      projectId,
      name: 'Double submit',
      domain: 'tokens',
      dim: 3,
      budget: 3,
    });
    const both = await Promise.all([
      alice.preference.answer({ campaignId, queryIndex: 1, choice: 1 }),
      alice.preference.answer({ campaignId, queryIndex: 1, choice: 1 }),
    ]);
    expect(both.map((result) => result.duplicate).sort()).toEqual([false, true]);
    expect(both[0].theta).toEqual(both[1].theta);
    expect(both.every((result) => result.next?.index === 2)).toBe(true);
    const { campaign, answers } = await alice.preference.get({ campaignId });
    expect(campaign.answered).toBe(1);
    expect(answers).toHaveLength(1);
  });

  it('checks roles: strangers see nothing, viewers read, editors answer', async () => {
    const { id: campaignId } = await alice.preference.create({
      projectId,
      name: 'Shared',
      domain: 'tokens',
      dim: 3,
      budget: 4,
    });
    // Bob is not a member: the campaign does not exist for him.
    for (const attempt of [
      () => bob.preference.get({ campaignId }),
      () => bob.preference.next({ campaignId }),
      () => bob.preference.answer({ campaignId, queryIndex: 1, choice: 0 }),
      () => bob.preference.list({ projectId }),
      () => bob.preference.create({ projectId, name: 'x', domain: 'tokens' }),
    ]) {
      expect((await rejection(attempt())).code).toBe('NOT_FOUND');
    }
    const unknown = await rejection(
      alice.preference.get({ campaignId: '00000000-0000-4000-8000-000000000000' }),
    );
    expect(unknown.code).toBe('NOT_FOUND');
    expect((await rejection(alice.preference.get({ campaignId: 'nope' }))).message).toMatch(/UUID/);

    // As a viewer Bob reads the dashboard but cannot answer or create.
    await alice.project.addMember({ projectId, email: 'bob@example.org', role: 'viewer' });
    expect((await bob.preference.get({ campaignId })).role).toBe('viewer');
    expect((await bob.preference.list({ projectId })).map((c) => c.id)).toContain(campaignId);
    const answer = await rejection(bob.preference.answer({ campaignId, queryIndex: 1, choice: 0 }));
    expect(answer.code).toBe('FORBIDDEN');
    expect((await rejection(bob.preference.next({ campaignId }))).code).toBe('FORBIDDEN');
    expect((await rejection(bob.preference.create({ projectId, name: 'x', domain: 'tokens' }))).code).toBe(
      'FORBIDDEN',
    );
    // A viewer cannot be the assignee either.
    const assignViewer = await rejection(
      alice.preference.create({ projectId, name: 'x', domain: 'tokens', assignee: 'bob@example.org' }),
    );
    expect(assignViewer.code).toBe('BAD_REQUEST');
    expect(assignViewer.message).toMatch(/not an editor/);

    // Shared with Carol, an editor: she answers the campaign Alice created.
    await alice.project.addMember({ projectId, email: 'carol@example.org', role: 'editor' });
    const { id: assigned } = await alice.preference.create({
      projectId,
      name: 'For Carol',
      domain: 'tokens',
      dim: 3,
      budget: 2,
      assignee: 'Carol@example.org',
    });
    const listed = (await carol.preference.list({ projectId })).find((c) => c.id === assigned);
    expect(listed?.assignee).toBe('carol@example.org');
    const query = await pending(carol, assigned);
    await carol.preference.answer({ campaignId: assigned, queryIndex: query.index, choice: 1 });
    const { answers } = await alice.preference.get({ campaignId: assigned });
    expect(answers.map((a) => a.answeredByEmail)).toEqual(['carol@example.org']);
  });

  it('refuses invalid settings with readable messages', async () => {
    const smallK = await rejection(alice.preference.create({ projectId, name: 'x', domain: 'tokens', K: 1 }));
    expect(smallK.code).toBe('BAD_REQUEST');
    expect(smallK.message).toMatch(/K must be at least 2/);
    const badDomain = await rejection(
      alice.preference.create({ projectId, name: 'x', domain: 'proteins' as 'tokens' }),
    );
    expect(badDomain.code).toBe('BAD_REQUEST');
    const badLambda = await rejection(
      alice.preference.create({ projectId, name: 'x', domain: 'molecules', lambda: 0 }),
    );
    expect(badLambda.message).toMatch(/lambda must be positive/);
    const emptyName = await rejection(alice.preference.create({ projectId, name: '  ', domain: 'tokens' }));
    expect(emptyName.message).toMatch(/name must not be empty/);
  });

  it('learns a simulated user’s θ* from 20 answers, the next query ready in well under a second', async () => {
    const thetaStar = [1.6, -1.2, 0.8, -0.4];
    const { id: campaignId } = await alice.preference.create({
      projectId,
      name: 'Simulated user',
      domain: 'tokens',
      K: 3,
      horizon: 4,
      vocab: 8,
      dim: 4,
      budget: 20,
      seed: 3,
    });
    const user = createSimulatedUser(thetaStar, 1, createRng(2024));
    const errors: number[] = [];
    const latencies: number[] = [];
    const serverMs: number[] = [];
    let query = await pending(alice, campaignId);
    for (let t = 1; t <= 20; t++) {
      const choice = user.choose(optionFeatures(query.options));
      const started = performance.now();
      const result = await alice.preference.answer({ campaignId, queryIndex: query.index, choice });
      latencies.push(performance.now() - started);
      serverMs.push(result.timings.totalMs);
      errors.push(cosineError(thetaStar, result.theta));
      if (t < 20) {
        expect(result.next?.index).toBe(t + 1);
        query = result.next ?? query;
      } else {
        expect(result.status).toBe('completed');
      }
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(
      `[preferences ${mode}] answer → next query: median ${sorted[10].toFixed(1)} ms, max ` +
        `${sorted[19].toFixed(1)} ms (server ${Math.max(...serverMs).toFixed(1)} ms at most); ` +
        `1 − cos(θ*, θ̂): ${errors.map((e) => e.toFixed(3)).join(' ')}`,
    );
    expect(Math.max(...latencies)).toBeLessThan(2000);
    // θ̂ points towards θ*: after 20 answers the angle is small, and smaller than after the first answers.
    expect(errors[19]).toBeLessThan(0.15);
    expect(errors[19]).toBeLessThan(Math.min(...errors.slice(0, 3)));
    const { campaign, answers } = await alice.preference.get({ campaignId });
    expect(answers).toHaveLength(20);
    expect(campaign.standardErrors.every((se) => se > 0 && se < 1 / Math.sqrt(2))).toBe(true);
  });

  describe('molecules', () => {
    it('builds the default pool of drugs: every entry parses with RDKit, none repeats', async () => {
      const rdkit = await loadRDKit();
      const canonical = DEFAULT_DRUGS.map((drug) => parseSmiles(rdkit, drug.smiles));
      expect(canonical.filter((parsed) => !parsed.valid)).toEqual([]);
      expect(new Set(canonical.map((parsed) => (parsed.valid ? parsed.canonical : ''))).size).toBe(
        DEFAULT_DRUGS.length,
      );
      expect(new Set(DEFAULT_DRUGS.map((drug) => drug.name)).size).toBe(DEFAULT_DRUGS.length);
      expect(DEFAULT_DRUGS.length).toBeGreaterThanOrEqual(100);
    });

    it('asks about molecules with depictions and properties, and skips them', async () => {
      const { id: campaignId } = await alice.preference.create({
        projectId,
        name: 'Drug-likeness',
        domain: 'molecules',
        K: 3,
        budget: 6,
        seed: 1,
      });
      const { campaign } = await alice.preference.get({ campaignId });
      expect(campaign.space).toMatchObject({
        kind: 'molecules',
        size: DEFAULT_DRUGS.length,
        source: 'default',
      });
      expect(campaign.featureNames.slice(0, 4)).toEqual(['QED', 'SA score', 'logP', 'TPSA']);
      expect(campaign.featureNames).toHaveLength(18);
      if (campaign.space.kind !== 'molecules') throw new Error('expected a molecule space');
      expect(campaign.space.normalization.sd.every((sd) => sd > 0)).toBe(true);

      const query = await pending(alice, campaignId);
      expect(query.options).toHaveLength(3);
      const names = new Set(DEFAULT_DRUGS.map((drug) => drug.name));
      for (const option of query.options) {
        expect(names.has(option.label)).toBe(true);
        expect(option.svg).toMatch(/<svg[\s\S]*<\/svg>/);
        expect(option.properties?.qed).toBeGreaterThan(0);
        expect(option.properties?.mw).toBeGreaterThan(50);
        expect(option.features).toHaveLength(18);
      }
      const first = await alice.preference.answer({ campaignId, queryIndex: 1, choice: 0 });
      expect(first.timings.totalMs).toBeLessThan(2000);
      console.log(
        `[preferences ${mode}] molecules (${DEFAULT_DRUGS.length} in the pool, d = 18): refit ` +
          `${first.timings.fitMs.toFixed(1)} ms, design ${first.timings.designMs.toFixed(1)} ms, ` +
          `answer → next query ${first.timings.totalMs.toFixed(1)} ms on the server`,
      );
      const skippedLabels = first.next?.options.map((option) => option.label) ?? [];
      const skip = await alice.preference.answer({ campaignId, queryIndex: 2, choice: 'skip' });
      // The molecules of a skipped query are left out of the next one.
      expect(skip.next?.options.some((option) => skippedLabels.includes(option.label))).toBe(false);
    });

    it('assembles options from fragments of the drugs: valid molecules, designed, refitted', async () => {
      const { id: campaignId } = await alice.preference.create({
        projectId,
        name: 'Assembled',
        domain: 'molecules',
        K: 3,
        budget: 4,
        seed: 5,
        assembly: { horizon: 3, vocab: 4 },
      });
      const { campaign } = await alice.preference.get({ campaignId });
      if (campaign.space.kind !== 'molecules' || !campaign.space.assembly)
        throw new Error('expected assembly');
      expect(campaign.space.assembly).toMatchObject({ horizon: 3, vocab: 4 });
      expect(campaign.space.assembly.library).toHaveLength(DEFAULT_DRUGS.length);
      // V^H = 64 paths at most; merged partial molecules make fewer distinct ones, but more than K.
      expect(campaign.space.size).toBeGreaterThan(3);
      expect(campaign.space.size).toBeLessThanOrEqual(64);

      const rdkit = await loadRDKit();
      const query = await pending(alice, campaignId);
      expect(query.options).toHaveLength(3);
      expect(new Set(query.options.map((option) => option.smiles)).size).toBe(3);
      for (const option of query.options) {
        const parsed = parseSmiles(rdkit, option.smiles!);
        expect(parsed.valid).toBe(true);
        expect(option.smiles).not.toContain('*');
        expect(option.svg).toMatch(/<svg[\s\S]*<\/svg>/);
        expect(option.properties?.qed).toBeGreaterThan(0);
        expect(option.features).toHaveLength(18);
        expect(option.tokens).toBeUndefined();
      }
      const answered = await alice.preference.answer({ campaignId, queryIndex: 1, choice: 1 });
      // The MDP is cached after creation: the next query is designed fast.
      expect(answered.timings.totalMs).toBeLessThan(2000);
      expect(answered.next?.options).toHaveLength(3);
      const after = await alice.preference.get({ campaignId });
      expect(after.campaign.theta.some((value) => value !== 0)).toBe(true);
      // The learned reward of an assembly campaign applies to any molecule, like a pool campaign's.
      const reward = await alice.preference.learnedReward({ campaignId });
      expect(reward.mean).toEqual(campaign.space.normalization.mean);
    });

    it('takes a pasted list with names, and refuses invalid SMILES with their line numbers', async () => {
      const text = [
        'smiles,name',
        'CCO ethanol',
        'c1ccccc1\tbenzene',
        '# a comment',
        '',
        'CC(=O)O, acetic acid',
        'CCN',
        'OCC ethanol again',
      ].join('\n');
      const { id: campaignId } = await alice.preference.create({
        projectId,
        name: 'Pasted',
        domain: 'molecules',
        K: 2,
        budget: 2,
        smiles: text,
      });
      const { campaign } = await alice.preference.get({ campaignId });
      // Ethanol appears twice (two SMILES of one molecule) and is kept once.
      expect(campaign.space).toMatchObject({ kind: 'molecules', size: 4, source: 'pasted' });
      const query = await pending(alice, campaignId);
      for (const option of query.options) {
        expect(['ethanol', 'benzene', 'acetic acid', 'CCN']).toContain(option.label);
      }

      const invalid = await rejection(
        alice.preference.create({
          projectId,
          name: 'Bad',
          domain: 'molecules',
          smiles: 'CCO\nC1CC\nCC(C)(C)(C)(C)C',
        }),
      );
      expect(invalid.code).toBe('BAD_REQUEST');
      expect(invalid.message).toMatch(/line 2/);
      expect(invalid.message).toMatch(/line 3/);
      const tooFew = await rejection(
        alice.preference.create({
          projectId,
          name: 'Small',
          domain: 'molecules',
          K: 3,
          smiles: 'CCO\nCCN\nCCC',
        }),
      );
      expect(tooFew.message).toMatch(/at least 4/);
    });
  });
});
