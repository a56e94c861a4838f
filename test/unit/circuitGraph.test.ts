/** The studio's graph → circuit conversion: nesting, child order, and readable errors for bad graphs. */
import { describe, expect, it } from 'vitest';
import { circuitFromGraph, exampleGraph, type StudioNode } from '../../components/studio/circuitGraph';
import { circuitSchema } from '../../server/engines/rfm/circuitSchema';

describe('circuitFromGraph', () => {
  it('turns the example into AND(OR(p1, p2), p3) with its reward, valid for the engine', () => {
    const circuit = circuitFromGraph(exampleGraph.nodes, exampleGraph.edges);
    if ('error' in circuit) throw new Error(circuit.error);
    expect(circuitSchema.parse(circuit)).toEqual(circuit);
    expect(circuit).toMatchObject({
      type: 'operator',
      operator: 'intersection',
      reward: { kind: 'linear', weights: [0.5, 0] },
      children: [
        { type: 'operator', operator: 'union', children: [{ name: 'p1' }, { name: 'p2' }] },
        { type: 'prior', name: 'p3' },
      ],
    });
  });

  it('orders children top to bottom, matching the weights', () => {
    const nodes = exampleGraph.nodes.map((n) => (n.id === 'p1' ? { ...n, position: { x: 0, y: 500 } } : n));
    const circuit = circuitFromGraph(nodes, exampleGraph.edges);
    if ('error' in circuit || circuit.type !== 'operator' || circuit.children[0].type !== 'operator') {
      throw new Error('expected the nested circuit');
    }
    expect(circuit.children[0].children.map((c) => c.name)).toEqual(['p2', 'p1']);
  });

  it('explains what is wrong with a graph it cannot run', () => {
    const loose = circuitFromGraph(exampleGraph.nodes, exampleGraph.edges.slice(0, 3));
    expect(loose).toEqual({ error: expect.stringMatching(/2 nodes feed nothing \(p3, AND\)/) as string });
    const withWeights = (weights: string): StudioNode[] =>
      exampleGraph.nodes.map((n) =>
        n.id === 'and' && n.data.type === 'operator' ? { ...n, data: { ...n.data, weights } } : n,
      );
    expect(circuitFromGraph(withWeights('1, 2, 3'), exampleGraph.edges)).toEqual({
      error: 'AND needs 2 positive weights (one per input, top to bottom).',
    });
    const empty = circuitFromGraph(
      [
        {
          id: 'x',
          position: { x: 0, y: 0 },
          data: { type: 'operator', name: 'X', operator: 'union', weights: '', reward: { kind: 'none' } },
        },
      ],
      [],
    );
    expect(empty).toEqual({ error: 'X has no inputs: connect priors or operators to it.' });
  });
});
