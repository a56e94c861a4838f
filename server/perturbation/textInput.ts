/**
 * Streaming text input for the MatrixMarket and CSV readers: a path or bytes, gzip recognised by its
 * magic bytes (not the file name), decompressed on the fly, lines bounded in length so that binary
 * garbage or a gzip bomb of one endless line is rejected instead of buffered. Every stream is destroyed
 * when the consumer stops early or fails, so no file descriptor outlives a failed read.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { parse as parseCsv, type Options as CsvOptions } from 'csv-parse';
import { ScreenInputError, type InputSource, type ReaderLimits } from './types';

const GZIP_MAGIC = [0x1f, 0x8b];

function startsWithGzipMagic(source: InputSource): boolean {
  if (typeof source !== 'string') return source[0] === GZIP_MAGIC[0] && source[1] === GZIP_MAGIC[1];
  const descriptor = fs.openSync(source, 'r');
  try {
    const head = Buffer.alloc(2);
    const read = fs.readSync(descriptor, head, 0, 2, 0);
    return read === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    fs.closeSync(descriptor);
  }
}

/** Fails the stream when a line runs past `maxLineBytes` (counted in decompressed bytes). */
class LineLengthGuard extends Transform {
  private currentLineBytes = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly label: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let from = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, from);
      const segment = (newline < 0 ? chunk.length : newline) - from;
      this.currentLineBytes += segment;
      if (this.currentLineBytes > this.maxLineBytes) {
        callback(
          new ScreenInputError(
            this.label,
            `a line is longer than ${this.maxLineBytes} bytes: not a text table (binary or corrupt data?)`,
          ),
        );
        return;
      }
      if (newline < 0) break;
      this.currentLineBytes = 0;
      from = newline + 1;
    }
    callback(null, chunk);
  }
}

/** The decompressed, length-guarded byte stream of a source. Stream errors become ScreenInputErrors. */
export function openTextStream(source: InputSource, label: string, limits: ReaderLimits): Readable {
  let raw: Readable;
  let gzipped: boolean;
  try {
    gzipped = startsWithGzipMagic(source);
    raw = typeof source === 'string' ? fs.createReadStream(source) : Readable.from([Buffer.from(source)]);
  } catch (error) {
    throw new ScreenInputError(label, `cannot open the file (${(error as Error).message})`);
  }
  const guard = new LineLengthGuard(limits.maxLineBytes, label);
  const forward = (stage: string) => (error: Error) => {
    guard.destroy(
      error instanceof ScreenInputError
        ? error
        : new ScreenInputError(
            label,
            stage === 'gunzip'
              ? `the gzip stream is corrupt or truncated (${error.message})`
              : `read failed (${error.message})`,
          ),
    );
  };
  raw.on('error', forward('read'));
  if (gzipped) {
    const gunzip = zlib.createGunzip();
    gunzip.on('error', forward('gunzip'));
    raw.pipe(gunzip).pipe(guard);
    guard.on('close', () => {
      raw.destroy();
      gunzip.destroy();
    });
  } else {
    raw.pipe(guard);
    guard.on('close', () => raw.destroy());
  }
  return guard;
}

/**
 * Calls `onLine` for each line of a text source, without its terminator (\n or \r\n), through readline's
 * 'line' events (a synchronous callback per line is about four times faster than readline's async
 * iterator, which matters at millions of MatrixMarket lines). Resolves at the end of the input; rejects
 * with the first error — the stream's (corrupt gzip, over-long line, unreadable file) or one `onLine`
 * throws — after closing readline and destroying the streams.
 */
export function forEachLine(
  source: InputSource,
  label: string,
  limits: ReaderLimits,
  onLine: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let stream: Readable;
    try {
      stream = openTextStream(source, label, limits);
    } catch (error) {
      reject(toInputError(error, label));
      return;
    }
    const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      lines.close();
      stream.destroy();
      reject(toInputError(error, label));
    };
    lines.on('line', (line) => {
      if (failed) return;
      try {
        onLine(line);
      } catch (error) {
        fail(error);
      }
    });
    stream.on('error', fail);
    lines.on('error', fail);
    lines.on('close', () => {
      if (!failed) resolve();
    });
  });
}

/** CSV / TSV records of a source through csv-parse, with the same stream handling as readLines. */
export async function* readRecords(
  source: InputSource,
  label: string,
  limits: ReaderLimits,
  options: CsvOptions = {},
): AsyncGenerator<string[]> {
  const stream = openTextStream(source, label, limits);
  const parser = parseCsv({
    delimiter: [',', '\t'],
    relax_column_count: true,
    skip_empty_lines: true,
    bom: true,
    max_record_size: limits.maxLineBytes,
    ...options,
  });
  stream.on('error', (error) => parser.destroy(error));
  stream.pipe(parser);
  try {
    for await (const record of parser as AsyncIterable<string[]>) yield record;
  } catch (error) {
    throw toInputError(error, label);
  } finally {
    parser.destroy();
    stream.destroy();
  }
}

function toInputError(error: unknown, label: string): ScreenInputError {
  if (error instanceof ScreenInputError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ScreenInputError(label, `malformed text (${message})`);
}

/** A finite number from a text field, or null (empty, 'NA', 'nan', '1e', '3x', …). */
export function parseFiniteNumber(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : null;
}
