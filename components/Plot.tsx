'use client';
/** A plotly chart, loaded in the browser only (plotly needs `window`). */
import { useEffect, useRef } from 'react';

export function Plot({
  data,
  layout,
  className = 'h-80 w-full',
  label,
}: {
  data: unknown[];
  layout?: Record<string, unknown>;
  className?: string;
  label: string;
}) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let cancelled = false;
    const target = element.current;
    void import('plotly.js-dist-min').then((Plotly) => {
      if (cancelled || !target) return;
      void Plotly.react(
        target,
        data,
        { margin: { l: 48, r: 16, t: 32, b: 40 }, autosize: true, font: { size: 11 }, ...layout },
        { responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false },
      );
    });
    return () => {
      cancelled = true;
    };
  }, [data, layout]);
  useEffect(() => {
    const target = element.current;
    return () => {
      if (target) void import('plotly.js-dist-min').then((Plotly) => Plotly.purge(target));
    };
  }, []);
  return <div ref={element} className={className} aria-label={label} data-plot={label} />;
}
