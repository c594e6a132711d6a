import { localTime } from '../locale';

type Spec = Record<string, any>;

/** Below this width a chart's legend goes under the plot and its title onto several lines. */
const NARROW = 520;
const MIN_WIDTH = 160;

/**
 * A copy of a Vega-Lite spec drawn `width` pixels wide in all (axes, legend and title
 * included), so it fits the sidebar instead of being clipped on the right.
 *
 * A single or layered view is sized with `autosize: fit-x` (Vega-Lite counts the axes and the
 * legend in the width); each view of a vertical concatenation gets the width less its axis. The
 * run times in the tooltips are said in the browser's locale.
 */
export function fitSpec(spec: Spec, width: number): Spec {
  const out: Spec = JSON.parse(JSON.stringify(spec));
  const w = Math.max(MIN_WIDTH, Math.floor(width));
  const narrow = w < NARROW;
  if (narrow) {
    out.config = {
      ...out.config,
      legend: { ...(out.config?.legend ?? {}), orient: 'bottom' },
      title: { ...(out.config?.title ?? {}), limit: w - 8 }
    };
    if (typeof out.title === 'string' && out.title.includes(' \u00b7 ')) {
      out.title = out.title.split(' \u00b7 ');
    }
  }
  if (out.hconcat || out.concat) {
    return out; // side by side: keeps its own widths (the holder scrolls)
  }
  if (Array.isArray(out.vconcat)) {
    for (const view of out.vconcat) {
      view.width = Math.max(MIN_WIDTH / 2, w - 90);
    }
  } else {
    out.width = w;
    out.autosize = { type: 'fit-x', contains: 'padding' };
  }
  addRunTimes(out);
  return out;
}

/** Each point's start (`t`, UTC) as `run_time` in the browser's locale and zone, instead of
 * the spec's own `run_time` transform (a fixed pattern). A metric chart's points come as columns
 * flattened into rows by the spec's first transform: the times are one more column. */
function addRunTimes(spec: Spec): void {
  const values = spec.data?.values;
  if (!Array.isArray(values) || !Array.isArray(spec.transform)) {
    return;
  }
  spec.transform = spec.transform.filter((t: Spec) => t?.as !== 'run_time');
  const flatten = spec.transform.find((t: Spec) => Array.isArray(t?.flatten));
  const said = (t: unknown) => (typeof t === 'string' && localTime(t)) || '\u2014';
  for (const row of values) {
    if (flatten && row && Array.isArray(row.t)) {
      row.run_time = row.t.map(said);
    } else if (row && typeof row.t === 'string') {
      row.run_time = said(row.t);
    }
  }
  if (flatten && !flatten.flatten.includes('run_time')) {
    flatten.flatten.push('run_time');
  }
}
