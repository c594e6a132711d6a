import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { errorBox, h, hint } from '../dom';
import { errorText } from '../handler';
import { localNumber, localTime } from '../locale';
import { DataOpsModel } from '../model';
import { IMetricChart, IStepMetrics } from '../types';
import { ChartView, EMBED_INSET } from './chart_view';
import { Section } from './section';

/** The reserved metric keys every production run records (jupyter_dataops/pipeline/observers/operations.py). */
export const OPS_PREFIX = 'ops:';
const FIRST = 'ops:duration';

/** An ops: key in words, e.g. `ops:output_rows:out.csv` -> "rows of out.csv". */
export function opsLabel(key: string): string {
  const fixed: Record<string, string> = {
    'ops:duration': 'duration (s)',
    'ops:queue_delay': 'queue delay (s)',
    'ops:notebook_bytes': 'executed notebook (bytes)',
    'ops:checks_failing': 'checks failing'
  };
  if (fixed[key]) {
    return fixed[key];
  }
  for (const [prefix, words] of [
    ['ops:output_rows:', 'rows of '],
    ['ops:output_bytes:', 'bytes of ']
  ]) {
    if (key.startsWith(prefix)) {
      return words + key.slice(prefix.length);
    }
  }
  return key.slice(OPS_PREFIX.length);
}

/**
 * Operations of the selected step: what every production run recorded with no line written
 * (duration, queue delay, notebook size, outputs' rows and bytes, checks failing), each judged
 * by SPC; the chosen metric's control chart is drawn here, its signals listed by run.
 */
export class OperationsSection extends Section {
  constructor(model: DataOpsModel, rendermime: IRenderMimeRegistry) {
    super(model, 'dataops-operations', 'jp-DataOps-operations');
    this._view = new ChartView(rendermime);
    this.node.hidden = true;
    model.stepChanged.connect(() => {
      this._metric = FIRST;
      this._disposeChart();
      this.invalidate();
      void this.load();
    });
  }

  async load(): Promise<void> {
    const step = this.model.selectedStep;
    this.node.hidden = step === null;
    if (step === null) {
      this._disposeChart();
      this.invalidate();
      return;
    }
    let metrics: IStepMetrics;
    let chart: IMetricChart | null = null;
    try {
      metrics = await this.model.client.stepMetrics(step);
      const ops = metrics.metrics.filter(m => m.metric.startsWith(OPS_PREFIX));
      if (ops.length && !ops.some(m => m.metric === this._metric)) {
        this._metric = ops[0].metric;
      }
      if (ops.length) {
        chart = await this.model.client.metricChart({ step, metric: this._metric });
      }
    } catch (error) {
      if (step === this.model.selectedStep) {
        this._disposeChart();
        this.draw(`error ${errorText(error)}`, () => [
          this._title(step),
          errorBox(`Cannot load the operations of ${step}: ${errorText(error)}`)
        ]);
      }
      return;
    }
    if (step !== this.model.selectedStep) {
      return;
    }
    const ops = metrics.metrics.filter(m => m.metric.startsWith(OPS_PREFIX));
    const key = JSON.stringify([step, this._metric, ops, chart]);
    if (key === this._drawnKey && this.node.firstChild) {
      return;
    }
    this._drawnKey = key;
    this._disposeChart();
    this.invalidate();
    this.draw(key, () => this._render(step, ops, chart));
    if (chart && chart.spec) {
      await this._renderChart(chart);
    }
  }

  dispose(): void {
    this._disposeChart();
    super.dispose();
  }

  private _title(step: string): HTMLElement {
    return h('h3', {}, `Operations \u00b7 ${step}`);
  }

  private _render(
    step: string,
    ops: IStepMetrics['metrics'],
    chart: IMetricChart | null
  ): (HTMLElement | null)[] {
    if (!ops.length) {
      return [
        this._title(step),
        hint(
          `No operational metrics for ${step} yet: every production run (dataops run, Run now, ` +
            'the scheduler) records its duration, queue delay, notebook size, outputs and failing checks.'
        )
      ];
    }
    this._holder = h('div', {
      className: 'jp-DataOps-chart-holder',
      'data-testid': 'dataops-ops-chart'
    });
    return [
      this._title(step),
      h(
        'div',
        { className: 'jp-DataOps-muted' },
        'Recorded by every production run, no line written; a point out of control warns the run.'
      ),
      h(
        'ul',
        { className: 'jp-DataOps-metrics', 'data-testid': 'dataops-ops-metrics' },
        ops.map(m =>
          h(
            'li',
            {},
            h(
              'button',
              {
                className: `jp-DataOps-link${m.metric === this._metric ? ' jp-mod-selected' : ''}`,
                'data-testid': 'dataops-ops-metric',
                'data-metric': m.metric,
                title: `Chart ${m.metric} over the production runs of ${step}`,
                onclick: () => {
                  this._metric = m.metric;
                  this._drawnKey = '';
                  void this.load();
                }
              },
              opsLabel(m.metric)
            ),
            h(
              'span',
              { className: 'jp-DataOps-muted' },
              ` ${localNumber(m.last_value)} \u00b7 ${m.points} run${m.points === 1 ? '' : 's'}`
            )
          )
        )
      ),
      chart ? this._summary(chart) : null,
      this._holder,
      chart ? this._signals(chart) : null
    ];
  }

  private _summary(chart: IMetricChart): HTMLElement {
    const judged = chart.judged
      ? `judged: ${chart.rules ?? chart.chart} rules, baseline ${chart.baseline} runs`
      : `not judged: collecting baseline ${chart.collected}/${chart.baseline}`;
    return h(
      'div',
      {
        className: 'jp-DataOps-muted',
        'data-testid': 'dataops-ops-summary',
        'data-metric': chart.metric,
        'data-judged': chart.judged ? 'true' : 'false'
      },
      `${opsLabel(chart.metric)} \u00b7 ${chart.window.total} production runs \u00b7 ${judged}`
    );
  }

  private _signals(chart: IMetricChart): HTMLElement {
    if (!chart.violations.length) {
      return h(
        'div',
        { className: 'jp-DataOps-muted', 'data-testid': 'dataops-ops-signals' },
        chart.judged ? 'No signal: in control.' : 'No signal: nothing is judged before the baseline is complete.'
      );
    }
    return h(
      'ul',
      { className: 'jp-DataOps-violations', 'data-testid': 'dataops-ops-signals' },
      chart.violations.map(v =>
        h(
          'li',
          { 'data-rule': v.rule, 'data-run-id': v.step_run_id ?? '' },
          `${v.rule}: ${v.description} \u2014 run #${v.step_run_id ?? '?'}` +
            (v.time ? ` (${localTime(v.time)})` : '') +
            `, value ${localNumber(v.value)}`
        )
      )
    );
  }

  private async _renderChart(chart: IMetricChart): Promise<void> {
    const holder = this._holder;
    if (!holder || !holder.isConnected) {
      return;
    }
    await this._view.draw(holder, chart, holder.clientWidth - EMBED_INSET);
  }

  private _disposeChart(): void {
    this._view.clear();
  }

  private _metric = FIRST;
  private _drawnKey = '';
  private _holder: HTMLElement | null = null;
  private readonly _view: ChartView;
}
