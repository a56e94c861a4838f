/**
 * Dense layers held in raw tf.Variables, the parameters of every MLP of the engines (velocity fields,
 * LCD, the categorical autoencoder): seeded initialisation, JSON serialisation, exact reloading.
 */
import type { Rng } from './random';
import type { DenseParameters } from './tensor';
import { tf } from './tensor';

export interface DenseLayer extends DenseParameters {
  weight: tf.Variable<tf.Rank.R2>;
  bias: tf.Variable<tf.Rank.R1>;
}

export interface SerializedTensor {
  name: string;
  shape: number[];
  values: number[];
}

/** PyTorch's nn.Linear default: U(−g/√fan_in, g/√fan_in) for weights and biases, from a seeded Rng. */
export function uniformFanIn(rng: Rng, fanIn: number, size: number, gain = 1): Float32Array {
  const bound = gain / Math.sqrt(fanIn);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = (2 * rng.uniform() - 1) * bound;
  return values;
}

/** A variable holding `values`; the temporary tensor it is made from is released (the variable keeps it). */
export function variableFrom<R extends tf.Rank>(
  values: Float32Array,
  shape: number[],
  name?: string,
): tf.Variable<R> {
  const initial = tf.tensor(values, shape);
  const variable = tf.variable(initial, true, name) as tf.Variable<R>;
  initial.dispose();
  return variable;
}

/** Layers widths[0] → widths[1] → … → widths[last], initialised as nn.Linear. */
export function createDenseStack(widths: readonly number[], rng: Rng): DenseLayer[] {
  return widths.slice(1).map((fanOut, i) => {
    const fanIn = widths[i];
    return {
      weight: variableFrom<tf.Rank.R2>(uniformFanIn(rng, fanIn, fanIn * fanOut), [fanIn, fanOut]),
      bias: variableFrom<tf.Rank.R1>(uniformFanIn(rng, fanIn, fanOut), [fanOut]),
    };
  });
}

/** `{prefix}{i}.weight` and `{prefix}{i}.bias` for each layer, values copied out of the variables. */
export function serializeDenseStack(layers: readonly DenseLayer[], prefix: string): SerializedTensor[] {
  return layers.flatMap((layer, i) => [
    {
      name: `${prefix}${i}.weight`,
      shape: [...layer.weight.shape],
      values: Array.from(layer.weight.dataSync()),
    },
    { name: `${prefix}${i}.bias`, shape: [...layer.bias.shape], values: Array.from(layer.bias.dataSync()) },
  ]);
}

/** Reads one named tensor of a given shape, with a clear error when it is missing or misshapen. */
export function readSerializedTensor(
  tensors: ReadonlyMap<string, SerializedTensor>,
  name: string,
  shape: readonly number[],
  what: string,
): Float32Array {
  const entry = tensors.get(name);
  if (!entry) throw new Error(`${what} lack tensor ${name}`);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (entry.shape.join('x') !== shape.join('x') || entry.values.length !== expected) {
    throw new Error(`tensor ${name} has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return Float32Array.from(entry.values);
}

/** The inverse of serializeDenseStack for layers of the given widths. */
export function readDenseStack(
  tensors: ReadonlyMap<string, SerializedTensor>,
  widths: readonly number[],
  prefix: string,
  what: string,
): DenseLayer[] {
  return widths.slice(1).map((fanOut, i) => {
    const fanIn = widths[i];
    const read = (suffix: string, shape: number[]) =>
      readSerializedTensor(tensors, `${prefix}${i}.${suffix}`, shape, what);
    return {
      weight: variableFrom<tf.Rank.R2>(read('weight', [fanIn, fanOut]), [fanIn, fanOut]),
      bias: variableFrom<tf.Rank.R1>(read('bias', [fanOut]), [fanOut]),
    };
  });
}

export function disposeDenseStack(layers: readonly DenseLayer[]): void {
  for (const layer of layers) {
    layer.weight.dispose();
    layer.bias.dispose();
  }
}
