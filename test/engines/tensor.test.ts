/** Tensor backend selection (server/engines/tensor.ts). */
import { describe, expect, it } from 'vitest';
import { currentTensorBackend, initTensorBackend, tf } from '../../server/engines/tensor';

describe('initTensorBackend', () => {
  it('selects a working backend once and memoises it', async () => {
    const first = initTensorBackend();
    expect(initTensorBackend()).toBe(first);
    const info = await first;
    // Here the native packages are not installed, so auto lands on wasm (or cpu if wasm failed).
    expect(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).toContain(info.name);
    expect(info.detail).toContain(tf.version.tfjs);
    expect(currentTensorBackend()).toEqual(info);
    expect(initTensorBackend(info.name)).toBe(first);
  });

  it('fails clearly for an explicit backend that is not installed, and recovers', async () => {
    let installed = true;
    try {
      await import(/* @vite-ignore */ ['@tensorflow', 'tfjs-node'].join('/'));
    } catch {
      installed = false;
    }
    if (installed) return; // nothing to check where tfjs-node is present
    const before = await initTensorBackend();
    await expect(initTensorBackend('tensorflow')).rejects.toThrow(/@tensorflow\/tfjs-node/);
    // The failed switch left the previous backend in place and selected.
    expect(currentTensorBackend()).toEqual(before);
    expect(await initTensorBackend()).toEqual(before);
    expect((await initTensorBackend('cpu')).name).toBe('cpu');
    expect((await initTensorBackend('wasm')).name).toBe('wasm');
  });

  it('returns to the selected backend when tf.setBackend was called behind its back', async () => {
    const info = await initTensorBackend('wasm');
    await tf.setBackend('cpu');
    expect(currentTensorBackend()).toBeUndefined();
    expect(await initTensorBackend()).toEqual(info);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('computes the same matMul gradients on wasm (transpose-free) as on cpu', async () => {
    const a = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const b = [
      [0.5, -1],
      [2, 0.25],
      [-1, 1],
    ];
    const gradients = async (backend: 'wasm' | 'cpu') => {
      await initTensorBackend(backend);
      return tf.tidy(() => {
        const weights = tf.tensor2d([[1, -2]]);
        const f = (x: tf.Tensor, y: tf.Tensor) =>
          tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), weights));
        return tf
          .grads(f)([tf.tensor2d(a), tf.tensor2d(b)])
          .map((g) => Array.from(g.dataSync()));
      });
    };
    const wasm = await gradients('wasm');
    const cpu = await gradients('cpu');
    await initTensorBackend('wasm');
    // d/dA Σ (A·B)∘W = W·Bᵀ per row: [0.5+2, 2−0.5, −1−2] = [2.5, 1.5, −3]; d/dB = Aᵀ·W.
    expect(cpu[0]).toEqual([2.5, 1.5, -3, 2.5, 1.5, -3]);
    expect(cpu[1]).toEqual([5, -10, 7, -14, 9, -18]);
    expect(wasm).toEqual(cpu);
  });
});
