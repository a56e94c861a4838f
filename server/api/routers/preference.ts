/**
 * Preference campaigns (DESIGN.md §6, issue 6 item 4): create and list them in a project, read a
 * campaign's dashboard, get its pending query and answer it. Viewers read; editors and owners create and
 * answer (any editor of the project may answer, which is how a campaign is shared). A campaign in a project
 * the caller is not a member of is NOT_FOUND, as if it did not exist.
 */
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import {
  answerQuery,
  campaignDashboard,
  createCampaign,
  listCampaigns,
  nextQuery,
  projectOfCampaign,
  queryView,
} from '../../preferences/campaigns';
import { createCampaignSchema, PreferenceError } from '../../preferences/config';
import { learnedRewardSpec, rankMolecules } from '../../preferences/learnedReward';
import {
  authedProcedure,
  createTRPCRouter,
  projectProcedure,
  requireProjectRole,
  type Context,
  type ProjectRole,
} from '../trpc';

const campaignIdInput = z.object({ campaignId: z.uuid('campaignId must be a UUID') });

const answerInput = campaignIdInput.extend({
  /** The index of the query answered, as `next` returned it. */
  queryIndex: z.number().int().min(1),
  /** The chosen option, 0-based, or 'skip'. */
  choice: z.union([z.number().int().min(0).max(31), z.literal('skip')]),
});

/** Checks the caller's role in the campaign's project; NOT_FOUND for a missing campaign or a non-member. */
async function requireCampaignRole(
  ctx: Pick<Context, 'db'> & { user: { id: string } },
  campaignId: string,
  minRole: ProjectRole,
): Promise<ProjectRole> {
  const projectId = await projectOfCampaign(ctx.db, campaignId);
  if (!projectId) throw new TRPCError({ code: 'NOT_FOUND', message: 'Campaign not found.' });
  try {
    return await requireProjectRole(ctx, ctx.user.id, projectId, minRole);
  } catch (error) {
    if (error instanceof TRPCError && error.code === 'NOT_FOUND') {
      throw new TRPCError({ code: 'NOT_FOUND', message: 'Campaign not found.' });
    }
    throw error;
  }
}

/** The domain's refusals as tRPC errors. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PreferenceError) throw new TRPCError({ code: error.code, message: error.message });
    throw error;
  }
}

export const preferenceRouter = createTRPCRouter({
  create: projectProcedure('editor')
    .input(createCampaignSchema)
    .mutation(({ ctx, input }) => {
      const { projectId, ...campaign } = input;
      return mapped(() => createCampaign(ctx.db, { projectId, userId: ctx.user.id, input: campaign }));
    }),

  list: projectProcedure('viewer').query(({ ctx, input }) => listCampaigns(ctx.db, input.projectId)),

  get: authedProcedure.input(campaignIdInput).query(async ({ ctx, input }) => {
    const role = await requireCampaignRole(ctx, input.campaignId, 'viewer');
    return { ...(await mapped(() => campaignDashboard(ctx.db, input.campaignId))), role };
  }),

  /** A molecules campaign's estimate as a named reward for molecule design (issue 6 item 5). */
  learnedReward: authedProcedure.input(campaignIdInput).query(async ({ ctx, input }) => {
    await requireCampaignRole(ctx, input.campaignId, 'viewer');
    return mapped(() => learnedRewardSpec(ctx.db, input.campaignId));
  }),

  /** Ranks a pasted molecule list by the campaign's learned reward, best first. */
  rank: authedProcedure
    .input(campaignIdInput.extend({ molecules: z.string().max(500_000) }))
    .mutation(async ({ ctx, input }) => {
      await requireCampaignRole(ctx, input.campaignId, 'viewer');
      return { ranked: await mapped(() => rankMolecules(ctx.db, input.campaignId, input.molecules)) };
    }),

  next: authedProcedure.input(campaignIdInput).query(async ({ ctx, input }) => {
    await requireCampaignRole(ctx, input.campaignId, 'editor');
    return { query: await mapped(() => nextQuery(ctx.db, input.campaignId)) };
  }),

  answer: authedProcedure.input(answerInput).mutation(async ({ ctx, input }) => {
    await requireCampaignRole(ctx, input.campaignId, 'editor');
    const { campaign, ...result } = await mapped(() =>
      answerQuery(ctx.db, {
        campaignId: input.campaignId,
        userId: ctx.user.id,
        queryIndex: input.queryIndex,
        choice: input.choice === 'skip' ? null : input.choice,
      }),
    );
    const next = campaign.pendingQuery ? await queryView(ctx.db, campaign, campaign.pendingQuery) : null;
    return { ...result, next };
  }),
});
