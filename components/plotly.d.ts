// plotly.js-dist-min ships no types; this is the little of its API the app uses.
declare module 'plotly.js-dist-min' {
  export function react(
    element: HTMLElement,
    data: unknown[],
    layout?: unknown,
    config?: unknown,
  ): Promise<unknown>;
  export function purge(element: HTMLElement): void;
}
