import { handleMoleculeSdf } from '~/server/moleculeExport';
import { getRuntime } from '~/server/runtimeRegistry';

export async function GET(request: Request, context: { params: Promise<{ runId: string }> }) {
  const { runId } = await context.params;
  return handleMoleculeSdf(getRuntime(), request, runId);
}
