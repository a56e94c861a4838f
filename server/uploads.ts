/**
 * File uploads: POST /api/upload?projectId=…&filename=…[&name=…] with the file as the raw body.
 * The body streams into the blob store (never held whole in memory) and is cut off with 413 as
 * soon as it passes the configured limit; the dataset row is written only for a complete file.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { BlobTooLargeError } from '../db/blobs';
import { formatBytes } from './format';
import { datasets } from '../db/schema';
import { requireProjectRole } from './api/trpc';
import type { Runtime } from './runtime';

const uploadParams = z.object({
  projectId: z.uuid('projectId must be a UUID'),
  filename: z
    .string()
    .trim()
    .min(1, 'filename is required')
    .max(255)
    .refine((name) => !/[/\\\0]/.test(name), 'filename must not contain slashes'),
  name: z.string().trim().max(200).optional(),
});

function jsonError(status: number, error: string): Response {
  return Response.json({ error }, { status });
}

const httpStatusOf: Partial<Record<TRPCError['code'], number>> = {
  NOT_FOUND: 404,
  FORBIDDEN: 403,
  UNAUTHORIZED: 401,
};

export async function handleUpload(runtime: Runtime, request: Request): Promise<Response> {
  const session = await runtime.auth.api.getSession({ headers: request.headers });
  if (!session) return jsonError(401, 'Sign in to upload files.');

  const params = uploadParams.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  if (!params.success)
    return jsonError(400, `Invalid upload: ${z.prettifyError(params.error).replace(/\n/g, ' ')}`);
  const { projectId, filename } = params.data;

  try {
    await requireProjectRole(runtime, session.user.id, projectId, 'editor');
  } catch (error) {
    if (error instanceof TRPCError) return jsonError(httpStatusOf[error.code] ?? 400, error.message);
    throw error;
  }

  const maxBytes = runtime.env.TRIBUTARY_UPLOAD_MAX_BYTES;
  const tooLarge = `The file is larger than the upload limit of ${formatBytes(maxBytes)} (TRIBUTARY_UPLOAD_MAX_BYTES).`;
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) return jsonError(413, tooLarge);
  if (!request.body) return jsonError(400, 'The upload is empty: send the file as the request body.');

  let blob;
  try {
    blob = await runtime.blobs.writeFile(Readable.fromWeb(request.body as WebReadableStream<Uint8Array>), {
      maxBytes,
    });
  } catch (error) {
    if (error instanceof BlobTooLargeError) return jsonError(413, tooLarge);
    throw error;
  }
  if (blob.sizeBytes === 0) return jsonError(400, 'The upload is empty: send the file as the request body.');

  const dataset = await runtime.db.transaction(async (tx) => {
    await runtime.blobs.record(blob, tx);
    const [row] = await tx
      .insert(datasets)
      .values({
        projectId,
        name: params.data.name || filename,
        filename,
        mediaType: request.headers.get('content-type') || 'application/octet-stream',
        blobSha256: blob.sha256,
        sizeBytes: blob.sizeBytes,
        createdBy: session.user.id,
      })
      .returning();
    return row;
  });
  return Response.json({ dataset }, { status: 201 });
}
