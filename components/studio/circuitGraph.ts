/**
 * The studio's graph ↔ circuit JSON. Nodes are priors or operators; an edge runs from a child to the
 * operator that consumes it. The root is the one node nothing consumes. Children are ordered top to
 * bottom on the canvas, which is also the order of an operator's weights.
 */
import type { Circuit, PriorSource } from '~/server/engines/rfm/circuitSchema';
import type { RewardSpec } from '~/server/engines/rfm/rewards';

export type PriorPresetName = keyof typeof priorPresets;

/** Gaussian-mixture presets (exact densities) and toy densities (trained first). */
export const priorPresets = {
  'two blobs (left)': {
    kind: 'gaussian-mixture',
    components: [
      { weight: 1, mean: [-1.5, 0], sd: 0.6 },
      { weight: 1, mean: [1, 0], sd: 0.6 },
    ],
  },
  'two blobs (right)': {
    kind: 'gaussian-mixture',
    components: [
      { weight: 1, mean: [1, 0], sd: 0.6 },
      { weight: 1, mean: [1, 2], sd: 0.6 },
    ],
  },
  'eight gaussians': {
    kind: 'gaussian-mixture',
    components: Array.from({ length: 8 }, (_, k) => ({
      weight: 1,
      mean: [2.5 * Math.cos((k * Math.PI) / 4), 2.5 * Math.sin((k * Math.PI) / 4)],
      sd: 0.35,
    })),
  },
  'wide gaussian': { kind: 'gaussian-mixture', components: [{ weight: 1, mean: [0.5, 0.5], sd: 1.2 }] },
  moons: { kind: 'toy', density: 'moons', steps: 1500 },
  rings: { kind: 'toy', density: 'rings', steps: 1500 },
  checkerboard: { kind: 'toy', density: 'checkerboard', steps: 1500 },
  'swiss roll': { kind: 'toy', density: 'swiss-roll', steps: 1500 },
} satisfies Record<string, PriorSource>;

export type RewardChoice =
  | { kind: 'none' }
  | { kind: 'linear'; wx: number; wy: number }
  | { kind: 'radial'; cx: number; cy: number; strength: number }
  | { kind: 'region'; xMin: number; xMax: number; yMin: number; yMax: number; inside: number };

export type StudioNodeData =
  | { type: 'prior'; name: string; preset: PriorPresetName }
  | {
      type: 'operator';
      name: string;
      operator: 'intersection' | 'union' | 'interpolation';
      weights: string;
      reward: RewardChoice;
      /** Mirror-descent steps and γ as typed ('' = the engine's default). */
      outerSteps?: string;
      gamma?: string;
      solver?: 'reward-weighted' | 'adjoint-matching';
    };

export interface StudioNode {
  id: string;
  position: { x: number; y: number };
  data: StudioNodeData;
}
export interface StudioEdge {
  id: string;
  source: string;
  target: string;
}

export function rewardSpec(choice: RewardChoice): RewardSpec | undefined {
  switch (choice.kind) {
    case 'none':
      return undefined;
    case 'linear':
      return { kind: 'linear', weights: [choice.wx, choice.wy], offset: 0 };
    case 'radial':
      return { kind: 'radial', center: [choice.cx, choice.cy], strength: choice.strength };
    case 'region':
      return {
        kind: 'region',
        min: [choice.xMin, choice.yMin],
        max: [choice.xMax, choice.yMax],
        inside: choice.inside,
        outside: 0,
      };
  }
}

/** The circuit the graph draws, or a sentence saying what is wrong with the graph. */
export function circuitFromGraph(nodes: StudioNode[], edges: StudioEdge[]): Circuit | { error: string } {
  if (nodes.length === 0) return { error: 'Add at least one prior and one operator.' };
  const consumed = new Set(edges.map((e) => e.source));
  const roots = nodes.filter((n) => !consumed.has(n.id));
  if (roots.length !== 1) {
    return {
      error: `Connect everything into one circuit: ${roots.length} nodes feed nothing (${roots.map((r) => r.data.name).join(', ')}).`,
    };
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const build = (node: StudioNode, seen: Set<string>): Circuit | { error: string } => {
    if (seen.has(node.id)) return { error: `The graph has a cycle through ${node.data.name}.` };
    const data = node.data;
    if (data.type === 'prior') return { type: 'prior', name: data.name, source: priorPresets[data.preset] };
    const children = edges
      .filter((e) => e.target === node.id)
      .map((e) => byId.get(e.source))
      .filter((n): n is StudioNode => n !== undefined)
      .sort((a, b) => a.position.y - b.position.y);
    if (children.length === 0)
      return { error: `${data.name} has no inputs: connect priors or operators to it.` };
    const built: Circuit[] = [];
    for (const child of children) {
      const circuit = build(child, new Set([...seen, node.id]));
      if ('error' in circuit) return circuit;
      built.push(circuit);
    }
    const weights = data.weights.trim() ? data.weights.split(',').map((w) => Number(w.trim())) : undefined;
    if (weights && (weights.length !== children.length || weights.some((w) => !(w > 0)))) {
      return {
        error: `${data.name} needs ${children.length} positive weights (one per input, top to bottom).`,
      };
    }
    const reward = rewardSpec(data.reward);
    const outerSteps = data.outerSteps?.trim() ? Number(data.outerSteps) : undefined;
    if (outerSteps !== undefined && !(Number.isInteger(outerSteps) && outerSteps >= 1 && outerSteps <= 20)) {
      return { error: `${data.name}: mirror steps must be a whole number from 1 to 20.` };
    }
    const gamma = data.gamma?.trim() ? Number(data.gamma) : undefined;
    if (gamma !== undefined && !(gamma > 0)) return { error: `${data.name}: γ must be positive.` };
    return {
      type: 'operator',
      name: data.name,
      operator: data.operator,
      children: built,
      ...(weights ? { weights } : {}),
      ...(reward ? { reward } : {}),
      ...(outerSteps ? { outerSteps } : {}),
      ...(gamma ? { gamma } : {}),
      ...(data.solver && data.solver !== 'reward-weighted' ? { solver: data.solver } : {}),
    };
  };
  return build(roots[0], new Set());
}

/** AND(OR(p1, p2), p3) with a linear reward: a nested, two-level example whose targets are all exact. */
export const exampleGraph: { nodes: StudioNode[]; edges: StudioEdge[] } = {
  nodes: [
    { id: 'p1', position: { x: 0, y: 0 }, data: { type: 'prior', name: 'p1', preset: 'two blobs (left)' } },
    {
      id: 'p2',
      position: { x: 0, y: 110 },
      data: { type: 'prior', name: 'p2', preset: 'two blobs (right)' },
    },
    { id: 'p3', position: { x: 220, y: 200 }, data: { type: 'prior', name: 'p3', preset: 'wide gaussian' } },
    {
      id: 'or',
      position: { x: 220, y: 50 },
      data: { type: 'operator', name: 'OR', operator: 'union', weights: '', reward: { kind: 'none' } },
    },
    {
      id: 'and',
      position: { x: 440, y: 120 },
      data: {
        type: 'operator',
        name: 'AND',
        operator: 'intersection',
        weights: '',
        reward: { kind: 'linear', wx: 0.5, wy: 0 },
      },
    },
  ],
  edges: [
    { id: 'p1-or', source: 'p1', target: 'or' },
    { id: 'p2-or', source: 'p2', target: 'or' },
    { id: 'or-and', source: 'or', target: 'and' },
    { id: 'p3-and', source: 'p3', target: 'and' },
  ],
};
