'use client';
/**
 * The 2-D flow studio: compose a generative circuit from prior presets and RFM operators in a node
 * editor (React Flow), pick rewards, and run it through the queue.
 */
import '@xyflow/react/dist/style.css';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import {
  addEdge,
  Background,
  Controls,
  Handle,
  Position,
  ReactFlow,
  useEdgesState,
  useNodesState,
  type Connection,
  type Edge,
  type Node,
  type NodeProps,
} from '@xyflow/react';
import { useCallback, useMemo, useState } from 'react';
import { useTRPC } from '../trpc';
import { Button, ErrorNote, Field, Input, Select } from '../ui';
import {
  circuitFromGraph,
  exampleGraph,
  priorPresets,
  type PriorPresetName,
  type RewardChoice,
  type StudioNodeData,
} from './circuitGraph';

type StudioFlowNode = Node<StudioNodeData>;

function StudioNodeView({ data, selected }: NodeProps<StudioFlowNode>) {
  const isPrior = data.type === 'prior';
  return (
    <div
      className={`rounded-lg border px-3 py-2 text-xs shadow-sm ${
        isPrior ? 'border-sky-300 bg-sky-50' : 'border-brand-500 bg-brand-50'
      } ${selected ? 'ring-2 ring-brand-500' : ''}`}
      data-testid={`studio-node-${data.name}`}
    >
      {!isPrior && <Handle type="target" position={Position.Left} />}
      <div className="font-semibold">{data.name}</div>
      <div className="text-slate-500">
        {isPrior
          ? data.preset
          : `${{ intersection: 'AND', union: 'OR', interpolation: 'INTERP' }[data.operator]}${data.reward.kind === 'none' ? '' : ` + ${data.reward.kind} reward`}`}
      </div>
      <Handle type="source" position={Position.Right} />
    </div>
  );
}

const nodeTypes = { studio: StudioNodeView };

const exampleNodes: StudioFlowNode[] = exampleGraph.nodes.map((node) => ({ ...node, type: 'studio' }));
const exampleEdges: Edge[] = exampleGraph.edges;

const budgets = {
  quick: {
    sampleCount: 2000,
    steps: 500,
    warmSteps: 250,
    batchSize: 256,
    learningRate: 3e-3,
    hidden: 64,
    layers: 3,
    odeSteps: 20,
  },
  standard: {
    sampleCount: 4000,
    steps: 1500,
    warmSteps: 600,
    batchSize: 256,
    learningRate: 2e-3,
    hidden: 64,
    layers: 3,
    odeSteps: 30,
  },
};

export function FlowStudio({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [nodes, setNodes, onNodesChange] = useNodesState<StudioFlowNode>(exampleNodes);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>(exampleEdges);
  const [selectedId, setSelectedId] = useState<string | null>('and');
  const [budget, setBudget] = useState<keyof typeof budgets>('quick');
  const selected = nodes.find((n) => n.id === selectedId);
  const start = useMutation(
    trpc.run.start.mutationOptions({
      onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.run.list.queryKey({ projectId }) }),
    }),
  );
  const circuit = useMemo(() => circuitFromGraph(nodes, edges), [nodes, edges]);
  const onConnect = useCallback(
    (connection: Connection) => setEdges((eds) => addEdge(connection, eds)),
    [setEdges],
  );

  function update(data: StudioNodeData) {
    setNodes((current) => current.map((n) => (n.id === selectedId ? { ...n, data } : n)));
  }
  function add(data: StudioNodeData) {
    const id = `${data.type}-${Date.now()}`;
    setNodes((current) => [
      ...current,
      { id, type: 'studio', position: { x: 80, y: 260 + 20 * current.length }, data },
    ]);
    setSelectedId(id);
  }

  return (
    <div className="grid gap-4 md:grid-cols-[2fr_1fr]">
      <div className="h-96 rounded-lg border border-slate-200 bg-white" data-testid="studio-canvas">
        <ReactFlow
          nodes={nodes}
          edges={edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onConnect={onConnect}
          onNodeClick={(_, node) => setSelectedId(node.id)}
          fitView
          proOptions={{ hideAttribution: true }}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
      <div className="flex flex-col gap-3 text-sm">
        <div className="flex flex-wrap gap-2">
          <Button
            variant="secondary"
            onClick={() => add({ type: 'prior', name: `p${nodes.length + 1}`, preset: 'moons' })}
          >
            + Prior
          </Button>
          <Button
            variant="secondary"
            onClick={() =>
              add({
                type: 'operator',
                name: 'AND',
                operator: 'intersection',
                weights: '',
                reward: { kind: 'none' },
              })
            }
          >
            + AND
          </Button>
          <Button
            variant="secondary"
            onClick={() =>
              add({ type: 'operator', name: 'OR', operator: 'union', weights: '', reward: { kind: 'none' } })
            }
          >
            + OR
          </Button>
        </div>
        {selected && <NodePanel data={selected.data} onChange={update} />}
        {selected && (
          <Button
            variant="danger"
            onClick={() => {
              setNodes((current) => current.filter((n) => n.id !== selected.id));
              setEdges((current) =>
                current.filter((e) => e.source !== selected.id && e.target !== selected.id),
              );
              setSelectedId(null);
            }}
          >
            Delete {selected.data.name}
          </Button>
        )}
        <Field label="Budget">
          <Select value={budget} onChange={(e) => setBudget(e.target.value as keyof typeof budgets)}>
            <option value="quick">Quick (≈ 10 s a node)</option>
            <option value="standard">Standard (≈ 30 s a node)</option>
          </Select>
        </Field>
        {'error' in circuit ? <ErrorNote error={{ message: circuit.error }} /> : null}
        <Button
          disabled={'error' in circuit || start.isPending}
          onClick={() => {
            if ('error' in circuit) return;
            start.mutate({
              projectId,
              kind: 'rfm',
              config: { circuit, inner: budgets[budget], gridSize: 30, displaySamples: 600 },
            });
          }}
        >
          Run circuit
        </Button>
        <ErrorNote error={start.error} />
        {start.isSuccess && <p className="text-emerald-700">Queued: follow it in Runs.</p>}
      </div>
    </div>
  );
}

function NodePanel({ data, onChange }: { data: StudioNodeData; onChange: (data: StudioNodeData) => void }) {
  return (
    <div className="flex flex-col gap-2 rounded-lg border border-slate-200 bg-white p-3">
      <Field label="Name">
        <Input
          value={data.name}
          maxLength={40}
          onChange={(e) => onChange({ ...data, name: e.target.value })}
        />
      </Field>
      {data.type === 'prior' ? (
        <Field label="Prior">
          <Select
            value={data.preset}
            onChange={(e) => onChange({ ...data, preset: e.target.value as PriorPresetName })}
          >
            {Object.keys(priorPresets).map((name) => (
              <option key={name}>{name}</option>
            ))}
          </Select>
        </Field>
      ) : (
        <>
          <Field label="Operator">
            <Select
              value={data.operator}
              onChange={(e) =>
                onChange({ ...data, operator: e.target.value as 'intersection' | 'union' | 'interpolation' })
              }
            >
              <option value="intersection">AND (intersection)</option>
              <option value="union">OR (union)</option>
              <option value="interpolation">INTERP (Wasserstein barycenter)</option>
            </Select>
          </Field>
          <Field label="Weights α (comma-separated, inputs top to bottom; empty = all 1)">
            <Input value={data.weights} onChange={(e) => onChange({ ...data, weights: e.target.value })} />
          </Field>
          <RewardPanel reward={data.reward} onChange={(reward) => onChange({ ...data, reward })} />
          <div className="grid grid-cols-2 gap-2">
            <Field label="Mirror steps (empty = auto)">
              <Input
                value={data.outerSteps ?? ''}
                onChange={(e) => onChange({ ...data, outerSteps: e.target.value })}
              />
            </Field>
            <Field label="γ (empty = 1/A)">
              <Input
                value={data.gamma ?? ''}
                onChange={(e) => onChange({ ...data, gamma: e.target.value })}
              />
            </Field>
          </div>
          <Field label="Inner solver">
            <Select
              value={data.solver ?? 'reward-weighted'}
              onChange={(e) =>
                onChange({ ...data, solver: e.target.value as 'reward-weighted' | 'adjoint-matching' })
              }
            >
              <option value="reward-weighted">reward-weighted flow matching</option>
              <option value="adjoint-matching">Adjoint Matching (one input, linear/radial reward)</option>
            </Select>
          </Field>
        </>
      )}
    </div>
  );
}

const rewardDefaults: Record<RewardChoice['kind'], RewardChoice> = {
  none: { kind: 'none' },
  linear: { kind: 'linear', wx: 1, wy: 0 },
  radial: { kind: 'radial', cx: 0, cy: 0, strength: 1 },
  region: { kind: 'region', xMin: 0, xMax: 2, yMin: -1, yMax: 1, inside: 2 },
};

function RewardPanel({
  reward,
  onChange,
}: {
  reward: RewardChoice;
  onChange: (reward: RewardChoice) => void;
}) {
  const numbers = Object.entries(reward).filter(([key]) => key !== 'kind') as [string, number][];
  return (
    <>
      <Field label="Reward f">
        <Select
          value={reward.kind}
          onChange={(e) => onChange(rewardDefaults[e.target.value as RewardChoice['kind']])}
        >
          <option value="none">none (pure merging)</option>
          <option value="linear">linear: w·x</option>
          <option value="radial">radial: −s‖x − c‖²/2</option>
          <option value="region">region: a box</option>
        </Select>
      </Field>
      <div className="grid grid-cols-3 gap-2">
        {numbers.map(([key, value]) => (
          <Field key={key} label={key}>
            <Input
              type="number"
              step="0.1"
              value={value}
              onChange={(e) => onChange({ ...reward, [key]: Number(e.target.value) })}
            />
          </Field>
        ))}
      </div>
    </>
  );
}
