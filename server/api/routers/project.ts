import { TRPCError } from '@trpc/server';
import { and, count, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { projectMembers, projects, runs, user } from '../../../db/schema';
import { authedProcedure, createTRPCRouter, projectProcedure } from '../trpc';

export const projectRouter = createTRPCRouter({
  list: authedProcedure.query(async ({ ctx }) => {
    const rows = await ctx.db
      .select({
        id: projects.id,
        name: projects.name,
        description: projects.description,
        createdAt: projects.createdAt,
        role: projectMembers.role,
      })
      .from(projectMembers)
      .innerJoin(projects, eq(projects.id, projectMembers.projectId))
      .where(eq(projectMembers.userId, ctx.user.id))
      .orderBy(desc(projects.createdAt));
    const runCounts = await ctx.db
      .select({ projectId: runs.projectId, runs: count() })
      .from(runs)
      .innerJoin(
        projectMembers,
        and(eq(projectMembers.projectId, runs.projectId), eq(projectMembers.userId, ctx.user.id)),
      )
      .groupBy(runs.projectId);
    const countOf = new Map(runCounts.map((r) => [r.projectId, r.runs]));
    return rows.map((row) => ({ ...row, runCount: countOf.get(row.id) ?? 0 }));
  }),

  create: authedProcedure
    .input(
      z.object({
        name: z.string().trim().min(1, 'A project needs a name').max(100),
        description: z.string().trim().max(2000).default(''),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      return ctx.db.transaction(async (tx) => {
        const [project] = await tx
          .insert(projects)
          .values({ name: input.name, description: input.description, createdBy: ctx.user.id })
          .returning();
        await tx.insert(projectMembers).values({ projectId: project.id, userId: ctx.user.id, role: 'owner' });
        return project;
      });
    }),

  get: projectProcedure('viewer').query(async ({ ctx, input }) => {
    const [project] = await ctx.db.select().from(projects).where(eq(projects.id, input.projectId));
    const members = await ctx.db
      .select({ userId: user.id, name: user.name, email: user.email, role: projectMembers.role })
      .from(projectMembers)
      .innerJoin(user, eq(user.id, projectMembers.userId))
      .where(eq(projectMembers.projectId, input.projectId));
    return { ...project, role: ctx.role, members };
  }),

  addMember: projectProcedure('owner')
    .input(z.object({ email: z.email('Enter a valid email address'), role: z.enum(['editor', 'viewer']) }))
    .mutation(async ({ ctx, input }) => {
      const [member] = await ctx.db
        .select({ id: user.id })
        .from(user)
        .where(eq(user.email, input.email.toLowerCase()));
      if (!member) throw new TRPCError({ code: 'NOT_FOUND', message: `No account uses ${input.email}.` });
      if (member.id === ctx.user.id)
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'You own this project already.' });
      await ctx.db
        .insert(projectMembers)
        .values({ projectId: input.projectId, userId: member.id, role: input.role })
        .onConflictDoUpdate({
          target: [projectMembers.projectId, projectMembers.userId],
          set: { role: input.role },
        });
      return { userId: member.id, role: input.role };
    }),

  removeMember: projectProcedure('owner')
    .input(z.object({ userId: z.string().min(1) }))
    .mutation(async ({ ctx, input }) => {
      if (input.userId === ctx.user.id) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'An owner cannot remove themselves.' });
      }
      await ctx.db
        .delete(projectMembers)
        .where(and(eq(projectMembers.projectId, input.projectId), eq(projectMembers.userId, input.userId)));
      return { removed: input.userId };
    }),
});
