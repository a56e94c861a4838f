import { handleUpload } from '~/server/uploads';
import { getRuntime } from '~/server/runtimeRegistry';

export function POST(request: Request) {
  return handleUpload(getRuntime(), request);
}
