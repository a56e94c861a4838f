/**
 * Peer-dependent setup for the reader tests, kept out of test/support/anndataPeer.ts so that the benchmark
 * can use the peer helper without loading vitest.
 */
import { beforeAll, beforeEach } from 'vitest';

/**
 * A setup that needs the peer, run once before a file's tests. When it throws (the peer is absent), every
 * test of the file fails with that message: a failing beforeAll alone would list them as skipped.
 */
export function beforeAllWithPeer(setup: () => void, timeoutMs = 180_000): void {
  let failure: Error | null = null;
  beforeAll(() => {
    try {
      setup();
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
    }
  }, timeoutMs);
  beforeEach(() => {
    if (failure) throw failure;
  });
}
