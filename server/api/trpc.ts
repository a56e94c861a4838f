/**
 * tRPC setup: context (runtime + signed-in user) and the three kinds of procedure:
 * public, authenticated, and project-member with a minimum role.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import { and, eq } from 'drizzle-orm';
import superjson from 'superjson';
import { z, ZodError } from 'zod';
import { projectMembers } from '../../db/schema';
import type { SessionUser } from '../auth';
import type { Runtime } from '../runtime';

export async function createTRPCContext(opts: { headers: Headers; runtime: Runtime }) {
  const session = await opts.runtime.auth.api.getSession({ headers: opts.headers });
  return {
    runtime: opts.runtime,
    db: opts.runtime.db,
    user: (session?.user ?? null) satisfies SessionUser | null,
  };
}
export type Context = Awaited<ReturnType<typeof createTRPCContext>>;

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const zodError = error.cause instanceof ZodError ? error.cause : null;
    return {
      ...shape,
      // A readable sentence instead of the raw issue list, plus the issues for forms.
      message: zodError ? `Invalid input: ${z.prettifyError(zodError).replace(/\n/g, ' ')}` : shape.message,
      data: { ...shape.data, zodIssues: zodError?.issues ?? null },
    };
  },
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure;

export const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
  return next({ ctx: { ...ctx, user: ctx.user } });
});

export type ProjectRole = 'owner' | 'editor' | 'viewer';
const roleRank: Record<ProjectRole, number> = { viewer: 0, editor: 1, owner: 2 };

/** Throws unless `userId` is a member of the project with at least `minRole`; returns the role. */
export async function requireProjectRole(
  ctx: Pick<Context, 'db'>,
  userId: string,
  projectId: string,
  minRole: ProjectRole,
): Promise<ProjectRole> {
  const [membership] = await ctx.db
    .select({ role: projectMembers.role })
    .from(projectMembers)
    .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)));
  if (!membership) {
    throw new TRPCError({ code: 'NOT_FOUND', message: 'Project not found, or you are not a member of it.' });
  }
  if (roleRank[membership.role] < roleRank[minRole]) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `This needs the ${minRole} role in the project; you are ${membership.role}.`,
    });
  }
  return membership.role;
}

/** A procedure whose input carries `projectId` and whose caller holds at least `minRole` there. */
export function projectProcedure(minRole: ProjectRole) {
  return authedProcedure
    .input(z.object({ projectId: z.uuid('projectId must be a UUID') }))
    .use(async ({ ctx, input, next }) => {
      const role = await requireProjectRole(ctx, ctx.user.id, input.projectId, minRole);
      return next({ ctx: { ...ctx, role } });
    });
}
