'use client';
/**
 * A preference campaign: the pending query (K options side by side; keys 1..K choose, S or 0 skips) for
 * editors, and the dashboard for every member: the estimated reward with its uncertainty, how the estimate
 * changed with each answer, and the answer history.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useLayoutEffect, useMemo } from 'react';
import { Plot } from '../Plot';
import { useTRPC } from '../trpc';
import type { RouterOutputs } from '../types';
import { Button, Card, ErrorNote, ProgressBar } from '../ui';
import { criterionLabels } from './CampaignsSection';
import { RankMolecules } from './RankMolecules';

type Dashboard = RouterOutputs['preference']['get'];
type Query = NonNullable<RouterOutputs['preference']['next']['query']>;
type QueryOption = Query['options'][number];

/** Key properties shown under a molecule, in order. */
const moleculeProperties: { key: string; label: string; digits: number }[] = [
  { key: 'qed', label: 'QED', digits: 2 },
  { key: 'mw', label: 'MW', digits: 0 },
  { key: 'logp', label: 'logP', digits: 1 },
  { key: 'tpsa', label: 'TPSA', digits: 0 },
  { key: 'hbd', label: 'HBD', digits: 0 },
  { key: 'hba', label: 'HBA', digits: 0 },
  { key: 'sa', label: 'SA', digits: 1 },
];

export function CampaignView({ dashboard }: { dashboard: Dashboard }) {
  const { campaign } = dashboard;
  const canAnswer = dashboard.role !== 'viewer';
  return (
    <div className="flex flex-col gap-6">
      <div>
        <h1 className="text-2xl font-semibold">{campaign.name}</h1>
        <p className="mt-1 text-sm text-slate-500">
          {campaign.domain === 'molecules' && campaign.space.kind === 'molecules'
            ? `${campaign.space.size} molecules (${campaign.space.source === 'default' ? 'well-known drugs' : 'pasted'})`
            : `token sequences of ${campaign.config.horizon}`}{' '}
          · K = {campaign.config.K} · {criterionLabels[campaign.config.criterion]} design · λ ={' '}
          {campaign.config.lambda} · seed {campaign.config.seed} · by {campaign.createdBy}
          {campaign.assignee && ` · assigned to ${campaign.assignee}`}
        </p>
      </div>
      {campaign.status === 'completed' ? (
        <Card title="Campaign complete">
          <p className="text-sm text-slate-600" data-testid="campaign-complete">
            All {campaign.config.budget} queries are done ({campaign.answered} answered, {campaign.skipped}{' '}
            skipped).
          </p>
        </Card>
      ) : canAnswer ? (
        <QueryPanel campaignId={campaign.id} />
      ) : (
        <Card title="Query">
          <p className="text-sm text-slate-500">Viewers see the estimate; editors answer the queries.</p>
        </Card>
      )}
      {campaign.domain === 'molecules' && <RankMolecules campaignId={campaign.id} />}
      <EstimateCard dashboard={dashboard} />
      <ThetaHistory dashboard={dashboard} />
      <AnswerHistory dashboard={dashboard} />
    </div>
  );
}

// ------------------------------------------------------------------------------------------ query

function QueryPanel({ campaignId }: { campaignId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const nextKey = trpc.preference.next.queryKey({ campaignId });
  const next = useQuery(trpc.preference.next.queryOptions({ campaignId }, { staleTime: Infinity }));
  const answer = useMutation(
    trpc.preference.answer.mutationOptions({
      onSuccess: (result) => {
        // The next query comes with the answer: show it at once, and refresh the dashboard without
        // waiting for it (the mutation stays pending until onSuccess returns, and keys are ignored then).
        queryClient.setQueryData(nextKey, { query: result.next });
        void queryClient.invalidateQueries({ queryKey: trpc.preference.get.queryKey({ campaignId }) });
        void queryClient.invalidateQueries({ queryKey: trpc.preference.list.queryKey() });
      },
      onError: () => queryClient.invalidateQueries({ queryKey: nextKey }),
    }),
  );
  const query = next.data?.query ?? null;
  const busy = answer.isPending;
  const submit = useCallback(
    (choice: number | 'skip') => {
      if (!query || busy) return;
      answer.mutate({ campaignId, queryIndex: query.index, choice });
    },
    [answer, busy, campaignId, query],
  );

  // A layout effect: the listener that knows the new query is in place before the browser shows it, so a
  // key pressed as soon as the query appears answers that query, not the previous one.
  useLayoutEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      const target = event.target as HTMLElement | null;
      if (target?.closest('input, textarea, select, [contenteditable="true"]')) return;
      if (!query) return;
      if (event.key === 's' || event.key === 'S' || event.key === '0') {
        event.preventDefault();
        submit('skip');
        return;
      }
      const number = Number(event.key);
      if (Number.isInteger(number) && number >= 1 && number <= query.options.length) {
        event.preventDefault();
        submit(number - 1);
      }
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [query, submit]);

  if (next.error) return <ErrorNote error={next.error} />;
  if (!next.data) {
    return (
      <Card title="Query">
        <p className="text-sm text-slate-500">Loading…</p>
      </Card>
    );
  }
  if (!query) {
    return (
      <Card title="Campaign complete">
        <p className="text-sm text-slate-600" data-testid="campaign-complete">
          All queries are done.
        </p>
      </Card>
    );
  }
  const shown = query.answered + query.skipped;
  return (
    <Card
      title={`Query ${query.index} of ${query.budget}: which do you prefer?`}
      actions={
        <Button variant="secondary" onClick={() => submit('skip')} disabled={busy}>
          Skip (S)
        </Button>
      }
    >
      <div
        data-testid="query"
        data-query-index={query.index}
        aria-busy={busy}
        className="flex flex-col gap-4"
      >
        <div>
          <ProgressBar fraction={shown / query.budget} />
          <p className="mt-1 text-xs text-slate-500" data-testid="query-progress">
            {query.answered} answered{query.skipped ? `, ${query.skipped} skipped` : ''} of {query.budget} ·
            press 1–{query.options.length} to choose, S or 0 to skip · designed in {query.designMs.toFixed(0)}{' '}
            ms
          </p>
        </div>
        <div
          className="grid gap-4"
          style={{ gridTemplateColumns: `repeat(${query.options.length}, minmax(0, 1fr))` }}
        >
          {query.options.map((option, i) => (
            <OptionCard
              key={`${query.index}-${i}`}
              option={option}
              position={i}
              featureNames={query.featureNames}
              disabled={busy}
              onChoose={() => submit(i)}
            />
          ))}
        </div>
        <ErrorNote error={answer.error} />
      </div>
    </Card>
  );
}

function OptionCard({
  option,
  position,
  featureNames,
  disabled,
  onChoose,
}: {
  option: QueryOption;
  position: number;
  featureNames: string[];
  disabled: boolean;
  onChoose: () => void;
}) {
  return (
    <div
      className="flex flex-col gap-2 rounded-lg border border-slate-200 p-3"
      data-testid="query-option"
      data-label={option.label}
      data-qed={option.properties?.qed}
    >
      <div className="flex items-center justify-between gap-2">
        <span className="truncate font-medium text-slate-800" title={option.smiles ?? option.label}>
          {option.label}
        </span>
        <kbd className="rounded border border-slate-300 bg-slate-50 px-1.5 text-xs text-slate-600">
          {position + 1}
        </kbd>
      </div>
      {option.svg && (
        <img
          src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(option.svg)}`}
          alt={`Structure of ${option.label}`}
          className="mx-auto h-44 w-full object-contain"
        />
      )}
      {option.tokens && (
        <div className="flex gap-1" aria-label="tokens">
          {option.tokens.map((token, i) => (
            <span
              key={i}
              className="rounded bg-brand-50 px-2 py-1 font-mono text-sm font-semibold text-brand-700"
            >
              {token}
            </span>
          ))}
        </div>
      )}
      {option.properties ? (
        <dl className="grid grid-cols-2 gap-x-3 text-xs">
          {moleculeProperties.map(({ key, label, digits }) =>
            option.properties?.[key] === undefined ? null : (
              <div key={key} className="contents">
                <dt className="text-slate-500">{label}</dt>
                <dd className="text-right tabular-nums">{option.properties[key].toFixed(digits)}</dd>
              </div>
            ),
          )}
        </dl>
      ) : (
        <FeatureBars values={option.features} names={featureNames} />
      )}
      <Button
        onClick={onChoose}
        disabled={disabled}
        aria-label={`Choose option ${position + 1}: ${option.label}`}
      >
        Choose ({position + 1})
      </Button>
    </div>
  );
}

/** A feature vector as small bars around zero (green positive, red negative). */
function FeatureBars({ values, names }: { values: number[]; names: string[] }) {
  const scale = Math.max(1e-9, ...values.map((value) => Math.abs(value)));
  return (
    <div className="flex flex-col gap-0.5" aria-label="features">
      {values.map((value, j) => {
        const width = `${(Math.abs(value) / scale) * 50}%`;
        return (
          <div
            key={j}
            className="flex items-center gap-2 text-[10px] text-slate-500"
            title={`${names[j]} = ${value.toFixed(3)}`}
          >
            <span className="w-6 shrink-0 text-right">{names[j]}</span>
            <div className="relative h-2 flex-1 rounded bg-slate-100">
              <div className="absolute inset-y-0 left-1/2 w-px bg-slate-300" />
              <div
                className={`absolute inset-y-0 rounded ${value >= 0 ? 'left-1/2 bg-emerald-500' : 'right-1/2 bg-red-400'}`}
                style={{ width }}
              />
            </div>
          </div>
        );
      })}
    </div>
  );
}

// -------------------------------------------------------------------------------------- dashboard

/** Up to `count` features with the largest positive and the most negative estimates. */
function topFeatures(theta: number[], count: number): number[] {
  const order = theta.map((_, j) => j).sort((a, b) => theta[b] - theta[a]);
  const positive = order.filter((j) => theta[j] > 0).slice(0, count);
  const negative = order
    .filter((j) => theta[j] < 0)
    .reverse()
    .slice(0, count);
  return [...positive, ...negative.reverse()];
}

function EstimateCard({ dashboard }: { dashboard: Dashboard }) {
  const { campaign } = dashboard;
  const { theta, standardErrors, featureNames } = campaign;
  const shownFeatures = useMemo(() => {
    const top = topFeatures(theta, 6);
    // Before any answer (θ̂ = 0) every feature is shown with its prior uncertainty.
    return (top.length ? top : theta.map((_, j) => j)).reverse();
  }, [theta]);
  const data = useMemo(
    () => [
      {
        type: 'bar',
        orientation: 'h',
        y: shownFeatures.map((j) => featureNames[j]),
        x: shownFeatures.map((j) => theta[j]),
        error_x: { type: 'data', array: shownFeatures.map((j) => 1.96 * standardErrors[j]), visible: true },
        marker: { color: shownFeatures.map((j) => (theta[j] >= 0 ? '#1f8a84' : '#dc6b6b')) },
        hovertemplate: '%{y}: %{x:.3f}<extra></extra>',
      },
    ],
    [featureNames, shownFeatures, standardErrors, theta],
  );
  const layout = useMemo(
    () => ({
      xaxis: { title: { text: 'θ̂ (log-odds per feature unit), ±1.96·SE' }, zeroline: true },
      margin: { l: 120, r: 16, t: 16, b: 48 },
    }),
    [],
  );
  return (
    <div className="grid gap-6 md:grid-cols-[3fr_2fr]">
      <Card title="Estimated reward">
        <p className="mb-2 text-sm text-slate-600" data-testid="estimate-summary">
          Estimate after{' '}
          <span data-testid="answer-count">
            {campaign.answered} answer{campaign.answered === 1 ? '' : 's'}
          </span>
          {campaign.skipped ? ` (${campaign.skipped} skipped)` : ''}: reward = θ̂ᵀφ; the features that raise
          and lower it most, with 95% intervals.
        </p>
        <Plot label="estimate" data={data} layout={layout} />
      </Card>
      <Card title="All features">
        <table className="w-full text-sm" data-testid="estimate-table">
          <thead className="text-xs uppercase text-slate-500">
            <tr>
              <th className="py-1 text-left">Feature</th>
              <th className="text-right">θ̂</th>
              <th className="text-right">±1.96·SE</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 tabular-nums">
            {featureNames.map((name, j) => (
              <tr key={name} data-feature={name} data-theta={theta[j]}>
                <td className="py-0.5">{name}</td>
                <td
                  className={`text-right ${theta[j] > 0 ? 'text-emerald-700' : theta[j] < 0 ? 'text-red-700' : ''}`}
                >
                  {theta[j].toFixed(3)}
                </td>
                <td className="text-right text-slate-500">{(1.96 * standardErrors[j]).toFixed(3)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

function ThetaHistory({ dashboard }: { dashboard: Dashboard }) {
  const { answers, campaign } = dashboard;
  const data = useMemo(
    () =>
      campaign.featureNames.map((name, j) => ({
        type: 'scatter',
        mode: 'lines+markers',
        name,
        x: [0, ...answers.map((answer) => answer.index)],
        y: [0, ...answers.map((answer) => answer.thetaAfter[j])],
        marker: { size: 4 },
      })),
    [answers, campaign.featureNames],
  );
  const layout = useMemo(
    () => ({
      xaxis: { title: { text: 'query' }, dtick: answers.length > 20 ? undefined : 1 },
      yaxis: { title: { text: 'θ̂' } },
      legend: { font: { size: 10 } },
    }),
    [answers.length],
  );
  return (
    <Card title="How the estimate changed">
      {answers.length === 0 ? (
        <p className="text-sm text-slate-500">No answers yet.</p>
      ) : (
        <Plot label="theta-history" data={data} layout={layout} />
      )}
    </Card>
  );
}

function AnswerHistory({ dashboard }: { dashboard: Dashboard }) {
  const { answers } = dashboard;
  return (
    <Card title="Answers">
      {answers.length === 0 ? (
        <p className="text-sm text-slate-500">No answers yet.</p>
      ) : (
        <div className="max-h-96 overflow-auto">
          <table className="w-full text-left text-sm" data-testid="answer-history">
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-2">#</th>
                <th>Options (chosen in bold)</th>
                <th>By</th>
                <th className="text-right">Took</th>
                <th className="text-right">Next query in</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {[...answers].reverse().map((answer) => (
                <tr key={answer.index} data-answer-index={answer.index}>
                  <td className="py-1.5 tabular-nums">{answer.index}</td>
                  <td>
                    {answer.options.map((option, i) => (
                      <span
                        key={i}
                        title={option.smiles}
                        className={`mr-2 ${i === answer.choice ? 'font-semibold text-brand-700' : 'text-slate-500'}`}
                      >
                        {i + 1}. {option.label}
                      </span>
                    ))}
                    {answer.skipped && <span className="text-xs text-amber-700">skipped</span>}
                  </td>
                  <td className="text-xs text-slate-500">{answer.answeredBy}</td>
                  <td className="text-right text-xs tabular-nums text-slate-500">
                    {answer.secondsTaken.toFixed(1)} s
                  </td>
                  <td className="text-right text-xs tabular-nums text-slate-500">
                    {answer.timings.totalMs.toFixed(0)} ms
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
