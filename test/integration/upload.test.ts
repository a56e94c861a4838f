/** Uploads stream into the content-addressed blob store, within the configured size limit. */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasets } from '../../db/schema';
import type { Runtime } from '../../server/runtime';
import { handleUpload } from '../../server/uploads';
import { callerFor, createTestRuntime, databaseModes, signUp } from '../support/runtime';

const LIMIT = 64 * 1024;

/** A request whose body arrives in chunks without a content-length, like a browser stream. */
function streamedUpload(url: string, headers: Headers, chunks: Uint8Array[]): Request {
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks.shift();
      if (chunk) controller.enqueue(chunk);
      else controller.close();
    },
  });
  return new Request(url, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
}

function blobFiles(runtime: Runtime & { dataDir: string }): string[] {
  const root = path.join(runtime.dataDir, 'blobs');
  return fs
    .readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name);
}

describe.each(databaseModes)('uploads on %s', (mode) => {
  let runtime: Runtime & { dataDir: string };
  let cookie: Headers;
  let projectId: string;
  const url = (params: Record<string, string>) =>
    `http://localhost/api/upload?${new URLSearchParams(params).toString()}`;

  beforeAll(async () => {
    runtime = await createTestRuntime(mode, { TRIBUTARY_UPLOAD_MAX_BYTES: String(LIMIT) });
    cookie = await signUp(runtime, 'carol@example.org');
    projectId = (await (await callerFor(runtime, cookie)).project.create({ name: 'Screens' })).id;
  });
  afterAll(() => runtime?.close());

  it('stores a file under its sha256 and lists it', async () => {
    const bytes = new Uint8Array(40_000).map((_, i) => (i * 7) % 256);
    const response = await handleUpload(
      runtime,
      streamedUpload(url({ projectId, filename: 'cells.csv' }), cookie, [
        bytes.slice(0, 10_000),
        bytes.slice(10_000),
      ]),
    );
    expect(response.status).toBe(201);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const { dataset } = (await response.json()) as { dataset: { blobSha256: string; sizeBytes: number } };
    expect(dataset).toMatchObject({ blobSha256: sha256, sizeBytes: 40_000 });
    expect(fs.readFileSync(runtime.blobs.pathOf(sha256))).toEqual(Buffer.from(bytes));
    const listed = await (await callerFor(runtime, cookie)).dataset.list({ projectId });
    expect(listed.map((d) => d.sha256)).toContain(sha256);
  });

  it('refuses an oversized upload with 413 and keeps nothing of it', async () => {
    const filesBefore = blobFiles(runtime);
    const rowsBefore = (await runtime.db.select().from(datasets)).length;
    // Streamed (no content-length): cut off as soon as the limit is passed.
    const chunks = Array.from({ length: 20 }, () => new Uint8Array(8 * 1024).fill(1));
    const streamed = await handleUpload(
      runtime,
      streamedUpload(url({ projectId, filename: 'big.h5ad' }), cookie, chunks),
    );
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: string }).error).toMatch(
      /larger than the upload limit of 64 KiB/,
    );
    // Declared too large: refused before reading.
    const declared = new Headers(cookie);
    declared.set('content-length', String(LIMIT + 1));
    const early = await handleUpload(
      runtime,
      new Request(url({ projectId, filename: 'big.h5ad' }), { method: 'POST', headers: declared, body: 'x' }),
    );
    expect(early.status).toBe(413);
    expect(blobFiles(runtime)).toEqual(filesBefore);
    expect((await runtime.db.select().from(datasets)).length).toBe(rowsBefore);
  });

  it('answers bad requests with clear errors', async () => {
    const post = (params: Record<string, string>, headers = cookie) =>
      handleUpload(runtime, new Request(url(params), { method: 'POST', headers, body: 'a,b\n1,2\n' }));
    const anonymous = await post({ projectId, filename: 'a.csv' }, new Headers());
    expect(anonymous.status).toBe(401);
    const noName = await post({ projectId });
    expect(noName.status).toBe(400);
    expect(((await noName.json()) as { error: string }).error).toMatch(/filename/);
    const traversal = await post({ projectId, filename: '../../etc/passwd' });
    expect(traversal.status).toBe(400);
    const unknown = await post({ projectId: '00000000-0000-4000-8000-000000000000', filename: 'a.csv' });
    expect(unknown.status).toBe(404);
    const other = await signUp(runtime, 'mallory@example.org');
    expect((await post({ projectId, filename: 'a.csv' }, other)).status).toBe(404);
  });
});
