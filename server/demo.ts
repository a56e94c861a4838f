/**
 * Demo data for a first start: an account, a project, and a 2-D flow run queued so its dashboard
 * fills in while the visitor looks around. Runs once per data folder (skipped when the account exists).
 */
import { eq } from 'drizzle-orm';
import { projectMembers, projects, user } from '../db/schema';
import { flow2dConfigSchema } from './jobs/flow2dConfig';
import { createRun } from './runs';
import type { Runtime } from './runtime';

export const DEMO_EMAIL = 'demo@tributary.local';
export const DEMO_PASSWORD = 'tributary-demo';

export async function seedDemo(runtime: Runtime): Promise<{ created: boolean }> {
  const [existing] = await runtime.db.select({ id: user.id }).from(user).where(eq(user.email, DEMO_EMAIL));
  if (existing) return { created: false };
  const { user: demoUser } = await runtime.auth.api.signUpEmail({
    body: { email: DEMO_EMAIL, password: DEMO_PASSWORD, name: 'Demo scientist' },
  });
  const [project] = await runtime.db
    .insert(projects)
    .values({
      name: 'Demo: 2-D flows',
      description: 'A flow-matching model trained on the two-moons density, to show the run dashboard.',
      createdBy: demoUser.id,
    })
    .returning();
  await runtime.db
    .insert(projectMembers)
    .values({ projectId: project.id, userId: demoUser.id, role: 'owner' });
  const config = flow2dConfigSchema.parse({ density: 'moons', steps: 800 });
  await createRun(runtime, {
    projectId: project.id,
    kind: 'flow2d',
    name: 'Two moons (demo)',
    config,
    seed: 1,
    userId: demoUser.id,
  });
  return { created: true };
}
