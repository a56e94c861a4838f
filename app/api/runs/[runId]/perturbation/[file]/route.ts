import { handlePerturbationExport } from '~/server/perturbationExport';
import { getRuntime } from '~/server/runtimeRegistry';

export async function GET(request: Request, context: { params: Promise<{ runId: string; file: string }> }) {
  const { runId, file } = await context.params;
  return handlePerturbationExport(getRuntime(), request, runId, file);
}
