/**
 * GET /api/runs/:runId/molecules.sdf — the molecules of a molecule run (prior samples or a design's
 * results) as an SD file: 2-D coordinates from RDKit, the reward and properties as data items. Members of
 * the run's project only (viewer and up), like the dashboard itself.
 */
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { requireProjectRole } from './api/trpc';
import { loadRunDashboard } from './dashboard';
import { writeMoleculeSdf } from './molecules/io';
import { loadRDKit } from './molecules/rdkit';
import type { Runtime } from './runtime';

const runIdSchema = z.uuid();

export async function handleMoleculeSdf(
  runtime: Runtime,
  request: Request,
  runId: string,
): Promise<Response> {
  const session = await runtime.auth.api.getSession({ headers: request.headers });
  if (!session) return Response.json({ error: 'Sign in to download molecules.' }, { status: 401 });
  if (!runIdSchema.safeParse(runId).success)
    return Response.json({ error: 'Run not found.' }, { status: 404 });
  const dashboard = await loadRunDashboard(runtime.db, runId);
  if (!dashboard) return Response.json({ error: 'Run not found.' }, { status: 404 });
  try {
    await requireProjectRole(runtime, session.user.id, dashboard.run.projectId, 'viewer');
  } catch (error) {
    if (error instanceof TRPCError) return Response.json({ error: 'Run not found.' }, { status: 404 });
    throw error;
  }
  const molecules = dashboard.artifacts.molecules;
  if (!Array.isArray(molecules)) {
    return Response.json({ error: 'This run has no molecules.' }, { status: 404 });
  }
  const rows = (molecules as Record<string, unknown>[]).map((molecule) => {
    const { smiles, svg: _svg, ...properties } = molecule;
    return {
      smiles: String(smiles),
      properties: properties as Record<string, string | number | boolean | null | undefined>,
    };
  });
  const { sdf } = writeMoleculeSdf(await loadRDKit(), rows);
  return new Response(sdf, {
    headers: {
      'content-type': 'chemical/x-mdl-sdfile',
      'content-disposition': `attachment; filename="molecules-${runId.slice(0, 8)}.sdf"`,
    },
  });
}
