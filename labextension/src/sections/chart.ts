import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { errorBox, h, hint, loading, replaceChildren } from '../dom';
import { errorText } from '../handler';
import { localNumber, localTime } from '../locale';
import { DataOpsModel, IChartSelection } from '../model';
import { IMetricChart, IViolation } from '../types';
import { ChartView, EMBED_INSET } from './chart_view';
import { Section } from './section';

/** The points a chart shows at once; older history is a page away. */
export const CHART_WINDOW = 90;

/**
 * A metric's control chart (Vega-Lite, rendered by Lab's own renderer, so offline) fitted to the
 * width of its main-area tab, its limits and the rules its points break. Redrawn when the tab is
 * resized or a new production value arrives.
 */
export class ChartSection extends Section {
  constructor(model: DataOpsModel, rendermime: IRenderMimeRegistry) {
    super(model, 'dataops-chart', 'jp-DataOps-chart');
    this._view = new ChartView(rendermime);
    this.node.hidden = true;
    model.chartChanged.connect((_, selection) => {
      this.invalidate();
      this._drawnKey = '';
      this._data = null;
      this._before = null;
      this._disposeChart();
      this.node.hidden = selection === null;
      if (selection !== null) {
        replaceChildren(this.node, loading(`Loading the control chart of ${selection.metric}\u2026`));
        void this.load();
      }
    });
    this._resizeObserver = new ResizeObserver(() => this._onResize());
  }

  async load(): Promise<void> {
    const selection = this.model.chart;
    if (selection === null) {
      return;
    }
    let data: IMetricChart;
    try {
      data = await this.model.client.metricChart({ ...selection, limit: CHART_WINDOW, before: this._before });
    } catch (error) {
      if (selection === this.model.chart) {
        this._disposeChart();
        this.draw(`error ${errorText(error)}`, () => [
          this._head(selection),
          errorBox(errorText(error))
        ]);
      }
      return;
    }
    if (selection !== this.model.chart) {
      return;
    }
    const key = JSON.stringify(data);
    if (key === this._drawnKey) {
      return;
    }
    this._drawnKey = key;
    this._data = data;
    this._disposeChart();
    this.invalidate();
    this.draw(key, () => this._render(selection, data));
    await this._renderChart(data);
  }

  dispose(): void {
    this._resizeObserver.disconnect();
    this._disposeChart();
    super.dispose();
  }

  private _head(selection: IChartSelection): HTMLElement {
    return h(
      'div',
      { className: 'jp-DataOps-detail-head' },
      h('h3', {}, `${selection.step} \u00b7 ${selection.metric}`)
    );
  }

  private _render(selection: IChartSelection, data: IMetricChart): (HTMLElement | null)[] {
    const limits = Object.entries(data.limits).filter(([, v]) => v !== null);
    this._holder = h('div', { className: 'jp-DataOps-chart-holder', 'data-testid': 'dataops-chart-view' });
    this._resizeObserver.disconnect();
    this._resizeObserver.observe(this._holder);
    return [
      this._head(selection),
      h(
        'div',
        { className: 'jp-DataOps-chart-controls', title: 'as the spc line judged the metric' },
        h('span', { 'data-testid': 'dataops-chart-type', 'data-value': data.chart }, `chart ${data.chart}`),
        h(
          'span',
          { 'data-testid': 'dataops-chart-rules', 'data-value': data.rules ?? '' },
          data.rules ? `rules ${data.rules}` : 'no run rules'
        ),
        h(
          'span',
          { 'data-testid': 'dataops-chart-baseline', 'data-judged': data.judged ? 'true' : 'false' },
          data.judged
            ? `baseline ${data.baseline} runs`
            : `not judged: collecting baseline ${data.collected}/${data.baseline}`
        )
      ),
      data.line
        ? h('div', { className: 'jp-DataOps-muted' }, 'judged by ', h('code', { 'data-testid': 'dataops-chart-line' }, data.line))
        : null,
      data.note ? hint(data.note) : null,
      h(
        'div',
        { className: 'jp-DataOps-muted', 'data-testid': 'dataops-chart-limits' },
        `${data.window.total} production runs` +
          (limits.length ? ' \u00b7 ' + limits.map(([k, v]) => `${k} ${localNumber(v)}`).join(' \u00b7 ') : '')
      ),
      this._pager(data),
      this._holder,
      h('div', { className: 'jp-DataOps-subtitle' }, 'Broken rules'),
      data.violations.length
        ? h(
            'ul',
            { className: 'jp-DataOps-violations', 'data-testid': 'dataops-violations' },
            data.violations.map(v => h('li', { 'data-rule': v.rule, 'data-run-id': v.step_run_id ?? '' }, formatViolation(v)))
          )
        : h(
            'div',
            { className: 'jp-DataOps-muted', 'data-testid': 'dataops-violations' },
            data.judged ? 'none: the metric is in control' : 'none: nothing is judged before the baseline is complete'
          )
    ];
  }

  /** Older/newer buttons over the whole history; the limits stay those of the whole baseline. */
  private _pager(data: IMetricChart): HTMLElement {
    const w = data.window;
    const page = (before: number | null) => {
      this._before = before !== null && before >= w.total ? null : before;
      void this.load();
    };
    return h(
      'div',
      {
        className: 'jp-DataOps-chart-controls',
        'data-testid': 'dataops-chart-window',
        'data-first': String(w.first),
        'data-count': String(w.count),
        'data-total': String(w.total)
      },
      h(
        'button',
        {
          className: 'jp-DataOps-link',
          'data-testid': 'dataops-chart-older',
          disabled: w.older === null,
          title: 'Show the older points',
          onclick: () => page(w.older)
        },
        '\u2039 older'
      ),
      h('span', {}, `points ${localNumber(w.first + 1)}\u2013${localNumber(w.first + w.count)} of ${localNumber(w.total)}`),
      h(
        'button',
        {
          className: 'jp-DataOps-link',
          'data-testid': 'dataops-chart-newer',
          disabled: w.newer === null,
          title: 'Show the newer points',
          onclick: () => page(w.newer)
        },
        'newer \u203a'
      )
    );
  }

  /** Render the chart at the holder's width; if it still overflows (legend, menu), shrink once. */
  private async _renderChart(data: IMetricChart): Promise<void> {
    const holder = this._holder;
    if (!holder || !holder.isConnected) {
      return;
    }
    const available = holder.clientWidth;
    this._renderedWidth = available;
    let width = available - EMBED_INSET;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!(await this._view.draw(holder, data, width))) {
        return; // a newer render took over
      }
      const overflow = holder.scrollWidth - holder.clientWidth;
      if (overflow <= 0) {
        return;
      }
      width -= overflow + 2;
    }
  }

  private _onResize(): void {
    if (this._resizeTimer !== null) {
      window.clearTimeout(this._resizeTimer);
    }
    this._resizeTimer = window.setTimeout(() => {
      this._resizeTimer = null;
      const holder = this._holder;
      if (this._data && holder && holder.isConnected && Math.abs(holder.clientWidth - this._renderedWidth) > 8) {
        void this._renderChart(this._data);
      }
    }, 150);
  }

  private _disposeChart(): void {
    this._view.clear();
  }

  private readonly _view: ChartView;
  private _holder: HTMLElement | null = null;
  private _data: IMetricChart | null = null;
  private _drawnKey = '';
  private _before: number | null = null;
  private _renderedWidth = 0;
  private _resizeTimer: number | null = null;
  private _resizeObserver: ResizeObserver;
}

function formatViolation(v: IViolation): string {
  // which day (or parameters) the run was for; its start time only when it says neither
  const of = [v.partition, v.parameters].filter(Boolean).join('; ');
  const when = of ? ` (${of})` : v.time ? ` (${localTime(v.time)})` : '';
  const run = v.step_run_id !== null ? `run #${v.step_run_id}` : '';
  return `${v.rule}: ${v.description} \u2014 ${run}${when}, value ${localNumber(v.value)}`;
}
