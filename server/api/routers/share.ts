import { createHash, randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { runs, shareLinks } from '../../../db/schema';
import { loadRunDashboard } from '../../dashboard';
import {
  authedProcedure,
  createTRPCRouter,
  publicProcedure,
  requireProjectRole,
  type Context,
} from '../trpc';

/** 32 random bytes: unguessable. Only the sha256 of a token is stored, so a database leak leaks no links. */
export function newShareToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashShareToken(token) };
}

export function hashShareToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const tokenInput = z.object({
  token: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]{43}$/,
      'This is not a Tributary share token (43 characters of A-Z, a-z, 0-9, _ and -).',
    ),
});

async function requireRunRole(
  ctx: Pick<Context, 'db'>,
  userId: string,
  runId: string,
  role: 'viewer' | 'editor',
) {
  const [run] = await ctx.db.select({ projectId: runs.projectId }).from(runs).where(eq(runs.id, runId));
  if (!run) throw new TRPCError({ code: 'NOT_FOUND', message: 'Run not found.' });
  await requireProjectRole(ctx, userId, run.projectId, role);
}

export const shareRouter = createTRPCRouter({
  create: authedProcedure
    .input(
      z.object({
        runId: z.uuid('runId must be a UUID'),
        expiresInDays: z.number().int().min(1, 'Expiry is at least 1 day').max(365).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireRunRole(ctx, ctx.user.id, input.runId, 'editor');
      const { token, tokenHash } = newShareToken();
      const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
      const [link] = await ctx.db
        .insert(shareLinks)
        .values({ runId: input.runId, tokenHash, createdBy: ctx.user.id, expiresAt })
        .returning({ id: shareLinks.id });
      return { id: link.id, token, path: `/s/${token}`, expiresAt };
    }),

  list: authedProcedure
    .input(z.object({ runId: z.uuid('runId must be a UUID') }))
    .query(async ({ ctx, input }) => {
      await requireRunRole(ctx, ctx.user.id, input.runId, 'viewer');
      return ctx.db
        .select({
          id: shareLinks.id,
          createdAt: shareLinks.createdAt,
          expiresAt: shareLinks.expiresAt,
          revokedAt: shareLinks.revokedAt,
        })
        .from(shareLinks)
        .where(eq(shareLinks.runId, input.runId))
        .orderBy(desc(shareLinks.createdAt));
    }),

  revoke: authedProcedure
    .input(z.object({ linkId: z.uuid('linkId must be a UUID') }))
    .mutation(async ({ ctx, input }) => {
      const [link] = await ctx.db
        .select({ runId: shareLinks.runId, revokedAt: shareLinks.revokedAt })
        .from(shareLinks)
        .where(eq(shareLinks.id, input.linkId));
      if (!link) throw new TRPCError({ code: 'NOT_FOUND', message: 'Share link not found.' });
      await requireRunRole(ctx, ctx.user.id, link.runId, 'editor');
      const revokedAt = link.revokedAt ?? new Date();
      await ctx.db.update(shareLinks).set({ revokedAt }).where(eq(shareLinks.id, input.linkId));
      return { id: input.linkId, revokedAt };
    }),

  /** The shared dashboard, for anyone holding the token: that run only, read-only. */
  view: publicProcedure.input(tokenInput).query(async ({ ctx, input }) => {
    const [link] = await ctx.db
      .select()
      .from(shareLinks)
      .where(eq(shareLinks.tokenHash, hashShareToken(input.token)));
    if (!link) throw new TRPCError({ code: 'NOT_FOUND', message: 'This share link does not exist.' });
    if (link.revokedAt)
      throw new TRPCError({ code: 'FORBIDDEN', message: 'This share link has been revoked.' });
    if (link.expiresAt && link.expiresAt.getTime() <= Date.now()) {
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: `This share link expired on ${link.expiresAt.toISOString()}.`,
      });
    }
    const dashboard = await loadRunDashboard(ctx.db, link.runId);
    if (!dashboard) throw new TRPCError({ code: 'NOT_FOUND', message: 'The shared run no longer exists.' });
    const { projectId: _projectId, ...run } = dashboard.run;
    return { ...dashboard, run, expiresAt: link.expiresAt };
  }),
});
