/**
 * Content-addressed blob store: bytes under <dataDir>/blobs/<aa>/<sha256>, metadata in `blobs`.
 * Writes stream through a temporary file while hashing, so large uploads are never held in memory;
 * the file is renamed into place only when complete and within the size limit.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { eq } from 'drizzle-orm';
import type { AppDb, AppTx } from './client';
import { formatBytes } from '../server/format';
import { blobs, datasets, models, runCheckpoints } from './schema';

export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`The file is larger than the limit of ${formatBytes(maxBytes)}.`);
    this.name = 'BlobTooLargeError';
  }
}

export type BlobSource = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

export interface StoredBlob {
  sha256: string;
  sizeBytes: number;
}

export class BlobStore {
  constructor(
    private readonly root: string,
    private readonly db: AppDb,
  ) {
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`Not a sha256 digest: ${sha256}`);
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  /** Stores the bytes and records the blob (in `tx` when given, so it commits with the caller's rows). */
  async put(source: BlobSource, options: { maxBytes?: number; tx?: AppTx } = {}): Promise<StoredBlob> {
    const blob = await this.writeFile(source, options);
    await this.record(blob, options.tx);
    return blob;
  }

  async record(blob: StoredBlob, tx?: AppTx): Promise<void> {
    await (tx ?? this.db).insert(blobs).values(blob).onConflictDoNothing();
  }

  /**
   * Streams `source` into the blob folder without touching the database. Throws BlobTooLargeError
   * as soon as more than `maxBytes` arrive, leaving nothing behind.
   */
  async writeFile(source: BlobSource, options: { maxBytes?: number } = {}): Promise<StoredBlob> {
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const tmpPath = path.join(this.root, 'tmp', randomUUID());
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) return callback(new BlobTooLargeError(maxBytes));
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    const input =
      typeof source === 'string' || source instanceof Uint8Array
        ? Readable.from([Buffer.from(source)])
        : source;
    try {
      await pipeline(input, meter, fs.createWriteStream(tmpPath, { flags: 'wx' }));
      const sha256 = hash.digest('hex');
      const finalPath = this.pathOf(sha256);
      fs.mkdirSync(path.dirname(finalPath), { recursive: true });
      fs.renameSync(tmpPath, finalPath); // same content, same name: a concurrent writer is harmless
      return { sha256, sizeBytes };
    } finally {
      fs.rmSync(tmpPath, { force: true });
    }
  }

  /**
   * Deletes a blob that no dataset, model or checkpoint refers to (its row and its file); a blob still
   * referred to is kept. Returns whether it was deleted.
   */
  async removeIfUnreferenced(sha256: string): Promise<boolean> {
    const removed = await this.db.transaction(async (tx) => {
      // One query at a time: a transaction holds one connection.
      const uses = [
        await tx.select({ one: datasets.id }).from(datasets).where(eq(datasets.blobSha256, sha256)).limit(1),
        await tx.select({ one: models.id }).from(models).where(eq(models.weightsSha256, sha256)).limit(1),
        await tx
          .select({ one: runCheckpoints.runId })
          .from(runCheckpoints)
          .where(eq(runCheckpoints.blobSha256, sha256))
          .limit(1),
      ];
      if (uses.some((rows) => rows.length > 0)) return false;
      await tx.delete(blobs).where(eq(blobs.sha256, sha256));
      return true;
    });
    if (removed) fs.rmSync(this.pathOf(sha256), { force: true });
    return removed;
  }

  async readBuffer(sha256: string): Promise<Buffer> {
    return fs.promises.readFile(this.pathOf(sha256));
  }

  createReadStream(sha256: string): fs.ReadStream {
    return fs.createReadStream(this.pathOf(sha256));
  }
}
