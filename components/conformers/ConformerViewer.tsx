'use client';
/**
 * One conformer of an ensemble in 3-D (3Dmol.js, loaded in the browser only: it needs WebGL and `window`).
 * Drag to rotate, scroll to zoom; the view is kept when another conformer of the same molecule is shown.
 */
import { useEffect, useRef } from 'react';

type Viewer = {
  clear(): void;
  addModel(data: string, format: string): unknown;
  setStyle(selection: object, style: object): void;
  zoomTo(): void;
  render(): void;
};

export function ConformerViewer({ record, label }: { record: string; label: string }) {
  const element = useRef<HTMLDivElement>(null);
  const viewer = useRef<Viewer | null>(null);
  const zoomed = useRef(false);
  useEffect(() => {
    let cancelled = false;
    const target = element.current;
    void import('3dmol').then(($3Dmol) => {
      if (cancelled || !target) return;
      viewer.current ??= $3Dmol.createViewer(target, { backgroundColor: 'white' }) as unknown as Viewer;
      const v = viewer.current;
      v.clear();
      v.addModel(record, 'sdf');
      v.setStyle({}, { stick: { radius: 0.15 }, sphere: { scale: 0.22 } });
      if (!zoomed.current) {
        v.zoomTo();
        zoomed.current = true;
      }
      v.render();
    });
    return () => {
      cancelled = true;
    };
  }, [record]);
  return (
    <div
      ref={element}
      className="relative h-96 w-full rounded-md border border-slate-200"
      aria-label={label}
      data-testid="conformer-viewer"
    />
  );
}
