import { Dialog, showDialog } from '@jupyterlab/apputils';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  badge,
  duration,
  formatValue,
  h,
  localTime,
  relativeTime,
  replaceChildren
} from './dom';
import { openExecutedNotebook } from './drive';
import { DataOpsApiError, requestAPI } from './handler';
import { dataopsIcon } from './icons';
import { promoteNotebook } from './promote';
import {
  IMetricChart,
  IPipelineList,
  IRunDetail,
  IRunList,
  IRunStarted,
  IStep,
  IStepMetrics
} from './types';

/** How often the panel asks the server for news while it is visible. */
export const POLL_INTERVAL_MS = 3000;
const PAGE_SIZE = 20;

export interface IPanelOptions {
  commands: CommandRegistry;
  rendermime: IRenderMimeRegistry;
  /** The path (relative to the Jupyter root) of the notebook in focus, if any. */
  currentNotebook: () => string | null;
  /** Save the notebook at `path` if it has unsaved changes. */
  saveNotebook: (path: string) => Promise<void>;
}

function errorText(error: unknown): string {
  if (error instanceof DataOpsApiError) {
    return error.message;
  }
  return String(error);
}

/**
 * The DataOps sidebar: pipelines → steps → recent runs, a run's checks, a metric's control chart.
 */
export class DataOpsPanel extends Widget {
  constructor(options: IPanelOptions) {
    super();
    this._options = options;
    this.id = 'jupyter-dataops-panel';
    this.addClass('jp-DataOps-panel');
    this.title.icon = dataopsIcon;
    this.title.caption = 'DataOps: pipelines, runs and control charts';

    const header = h(
      'div',
      { className: 'jp-DataOps-header' },
      h('h2', { className: 'jp-DataOps-title' }, 'DataOps'),
      h(
        'div',
        { className: 'jp-DataOps-actions' },
        h(
          'button',
          {
            className: 'jp-mod-styled jp-DataOps-button',
            'data-testid': 'dataops-refresh',
            title: 'Reload pipelines and runs',
            onclick: () => void this.refresh()
          },
          'Refresh'
        ),
        h(
          'button',
          {
            className: 'jp-mod-styled jp-mod-accept jp-DataOps-button',
            'data-testid': 'dataops-promote',
            title: 'Promote the notebook in focus into a pipeline step',
            onclick: () =>
              this._promote().catch(error =>
                this._say(`Could not promote: ${errorText(error)}`, 'error')
              )
          },
          'Promote this notebook'
        )
      )
    );
    this._notice = h('div', {
      className: 'jp-DataOps-notice',
      'data-testid': 'dataops-notice',
      role: 'status'
    });
    this._pipelinesNode = h('section', {
      className: 'jp-DataOps-section',
      'data-testid': 'dataops-pipelines'
    });
    this._runsNode = h('section', {
      className: 'jp-DataOps-section',
      'data-testid': 'dataops-runs'
    });
    this._detailNode = h('section', {
      className: 'jp-DataOps-section jp-DataOps-detail',
      'data-testid': 'dataops-run-detail'
    });
    this._chartNode = h('section', {
      className: 'jp-DataOps-section jp-DataOps-chart',
      'data-testid': 'dataops-chart'
    });
    this._detailNode.hidden = true;
    this._chartNode.hidden = true;
    for (const node of [
      header,
      this._notice,
      this._pipelinesNode,
      this._runsNode,
      this._detailNode,
      this._chartNode
    ]) {
      this.node.appendChild(node);
    }
    replaceChildren(this._pipelinesNode, this._loading('Loading pipelines…'));
  }

  /** Reload everything the panel shows. */
  async refresh(): Promise<void> {
    await Promise.all([
      this._loadPipelines(),
      this._loadRuns(),
      this._selectedRun !== null ? this._loadRun(this._selectedRun) : null,
      this._selectedStep !== null ? this._loadStepMetrics(this._selectedStep) : null
    ]);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
    this._startPolling();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.refresh();
      this._startPolling();
    }
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._stopPolling();
  }

  protected onBeforeDetach(msg: Message): void {
    this._stopPolling();
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    this._stopPolling();
    this._disposeChart();
    super.dispose();
  }

  /** Detach and dispose the chart renderer while its node is still in the document. */
  private _disposeChart(): void {
    const widget = this._chartWidget;
    this._chartWidget = null;
    if (widget && !widget.isDisposed) {
      if (widget.isAttached && widget.node.isConnected) {
        Widget.detach(widget);
      }
      widget.dispose();
    }
  }

  private _startPolling(): void {
    if (this._timer === null) {
      this._timer = window.setInterval(() => {
        if (this.isVisible && !this._busy) {
          this._busy = true;
          this.refresh()
            .catch(error => this._say(`Cannot refresh: ${errorText(error)}`, 'error'))
            .finally(() => {
              this._busy = false;
            });
        }
      }, POLL_INTERVAL_MS);
    }
  }

  private _stopPolling(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  private _loading(text: string): HTMLElement {
    return h('div', { className: 'jp-DataOps-loading', 'data-testid': 'dataops-loading' }, text);
  }

  private _hint(text: string): HTMLElement {
    return h('div', { className: 'jp-DataOps-hint', 'data-testid': 'dataops-hint' }, text);
  }

  private _error(text: string): HTMLElement {
    return h(
      'div',
      { className: 'jp-DataOps-error', 'data-testid': 'dataops-error', role: 'alert' },
      text
    );
  }

  private _say(text: string, kind: 'info' | 'error' = 'info'): void {
    this._notice.className = `jp-DataOps-notice jp-DataOps-notice-${kind}`;
    this._notice.textContent = text;
  }

  // ---------------------------------------------------------------- pipelines and steps

  private async _loadPipelines(): Promise<void> {
    try {
      const data = await requestAPI<IPipelineList>('pipelines');
      this._renderPipelines(data);
    } catch (error) {
      replaceChildren(
        this._pipelinesNode,
        h('h3', {}, 'Pipelines'),
        this._error(`Cannot load the pipelines: ${errorText(error)}`)
      );
    }
  }

  private _renderPipelines(data: IPipelineList): void {
    const key = JSON.stringify(data) + String(this._selectedStep);
    if (key === this._pipelinesKey) {
      return;
    }
    this._pipelinesKey = key;
    const children: HTMLElement[] = [h('h3', {}, 'Pipelines')];
    if (data.hint) {
      children.push(this._hint(data.hint));
    }
    for (const pipeline of data.pipelines) {
      children.push(
        h(
          'div',
          {
            className: 'jp-DataOps-pipeline',
            'data-testid': 'dataops-pipeline',
            'data-name': pipeline.name
          },
          h(
            'div',
            { className: 'jp-DataOps-pipeline-name' },
            pipeline.name,
            data.pipeline_file
              ? h('span', { className: 'jp-DataOps-muted' }, ` — ${data.pipeline_file}`)
              : null
          ),
          h(
            'ul',
            { className: 'jp-DataOps-steps' },
            pipeline.steps.map(step => this._stepRow(step))
          )
        )
      );
    }
    replaceChildren(this._pipelinesNode, children);
  }

  private _stepRow(step: IStep): HTMLElement {
    const selected = this._selectedStep === step.name;
    const last = step.last_run;
    return h(
      'li',
      {
        className: `jp-DataOps-step${selected ? ' jp-mod-selected' : ''}`,
        'data-testid': 'dataops-step',
        'data-step': step.name
      },
      h(
        'div',
        { className: 'jp-DataOps-step-head' },
        h(
          'button',
          {
            className: 'jp-DataOps-link jp-DataOps-step-name',
            title: selected
              ? 'Show the runs of every step'
              : `Show only the runs and metrics of ${step.name}`,
            'data-testid': 'dataops-step-select',
            onclick: () => this._selectStep(selected ? null : step.name)
          },
          step.name
        ),
        badge(last ? last.status : null),
        h(
          'button',
          {
            className: 'jp-mod-styled jp-DataOps-button jp-DataOps-run-now',
            'data-testid': 'dataops-run-now',
            title: `Run ${step.name} now (dataops run --step ${step.name})`,
            onclick: () => void this._runNow(step.name)
          },
          'Run now'
        )
      ),
      h(
        'div',
        { className: 'jp-DataOps-step-meta' },
        h('span', { title: step.notebook || '' }, step.notebook || 'notebook missing'),
        h(
          'span',
          {
            'data-testid': 'dataops-last-run',
            title: last ? localTime(last.started_at) : ''
          },
          last ? `last run ${relativeTime(last.started_at)}` : 'never run'
        ),
        h(
          'span',
          {
            'data-testid': 'dataops-next-run',
            title: step.schedule ? `cron: ${step.schedule} — ${localTime(step.next_run)}` : ''
          },
          step.schedule
            ? `next ${relativeTime(step.next_run)} (${step.schedule})`
            : 'not scheduled'
        ),
        step.depends_on.length
          ? h('span', {}, `after ${step.depends_on.join(', ')}`)
          : null
      ),
      selected ? this._stepMetricsNode : null
    );
  }

  private _selectStep(step: string | null): void {
    this._selectedStep = step;
    this._runsOffset = 0;
    this._pipelinesKey = '';
    replaceChildren(this._stepMetricsNode);
    void this.refresh();
  }

  private async _loadStepMetrics(step: string): Promise<void> {
    try {
      const data = await requestAPI<IStepMetrics>(
        `steps/${encodeURIComponent(step)}/metrics`
      );
      const key = JSON.stringify(data);
      if (key === this._stepMetricsKey && this._stepMetricsNode.firstChild) {
        return;
      }
      this._stepMetricsKey = key;
      replaceChildren(
        this._stepMetricsNode,
        h('div', { className: 'jp-DataOps-subtitle' }, 'Metrics'),
        data.hint ? this._hint(data.hint) : null,
        h(
          'ul',
          { className: 'jp-DataOps-metrics' },
          data.metrics.map(m =>
            h(
              'li',
              {},
              h(
                'button',
                {
                  className: 'jp-DataOps-link',
                  'data-testid': 'dataops-metric',
                  'data-metric': m.metric,
                  title: `Show the control chart of ${m.metric}`,
                  onclick: () => void this._showChart(step, m.metric)
                },
                m.metric
              ),
              h(
                'span',
                { className: 'jp-DataOps-muted' },
                ` ${formatValue(m.last_value)} · ${m.points} point${m.points === 1 ? '' : 's'}`
              )
            )
          )
        )
      );
    } catch (error) {
      replaceChildren(
        this._stepMetricsNode,
        this._error(`Cannot load the metrics of ${step}: ${errorText(error)}`)
      );
    }
  }

  private async _runNow(step: string): Promise<void> {
    this._say(`Starting ${step}…`);
    try {
      const started = await requestAPI<IRunStarted>(
        `steps/${encodeURIComponent(step)}/run`,
        { method: 'POST', body: JSON.stringify({}) }
      );
      const which = started.step_run_id !== null ? `run #${started.step_run_id}` : 'a run';
      this._say(`Started ${which} of ${step}. It appears below.`);
      await this.refresh();
    } catch (error) {
      this._say(`Could not run ${step}: ${errorText(error)}`, 'error');
    }
  }

  // ---------------------------------------------------------------- runs

  private async _loadRuns(): Promise<void> {
    const query = new URLSearchParams({
      limit: String(PAGE_SIZE),
      offset: String(this._runsOffset)
    });
    if (this._selectedStep) {
      query.set('step', this._selectedStep);
    }
    try {
      const data = await requestAPI<IRunList>(`runs?${query.toString()}`);
      this._renderRuns(data);
    } catch (error) {
      this._runsKey = '';
      replaceChildren(
        this._runsNode,
        h('h3', {}, 'Recent runs'),
        this._error(`Cannot load the runs: ${errorText(error)}`)
      );
    }
  }

  private _renderRuns(data: IRunList): void {
    const key = JSON.stringify(data) + String(this._selectedRun);
    if (key === this._runsKey) {
      return;
    }
    this._runsKey = key;
    const title = this._selectedStep ? `Recent runs of ${this._selectedStep}` : 'Recent runs';
    const rows = data.runs.map(run => {
      const counts = run.checks || {};
      const selected = run.id === this._selectedRun;
      const bad = (counts.fail || 0) + (counts.error || 0);
      return h(
        'li',
        {
          className: `jp-DataOps-run${selected ? ' jp-mod-selected' : ''}`,
          'data-testid': 'dataops-run',
          'data-run-id': run.id,
          'data-step': run.step,
          'data-status': run.status,
          title: 'Show this run\u2019s checks and parameters',
          onclick: () => this._selectRun(run.id)
        },
        h(
          'div',
          { className: 'jp-DataOps-run-head' },
          h('span', { className: 'jp-DataOps-run-id' }, `#${run.id}`),
          h('span', { className: 'jp-DataOps-run-step' }, run.step),
          run.mode !== 'production' ? h('span', { className: 'jp-DataOps-muted' }, run.mode) : null,
          badge(run.status)
        ),
        h(
          'div',
          { className: 'jp-DataOps-run-meta' },
          h(
            'span',
            { title: localTime(run.started_at || run.created_at) },
            relativeTime(run.started_at || run.created_at)
          ),
          h('span', {}, `took ${duration(run.duration)}`),
          run.attempt > 1 ? h('span', {}, `attempt ${run.attempt}`) : null,
          h(
            'span',
            { className: 'jp-DataOps-counts', 'data-testid': 'dataops-run-counts' },
            h('span', { className: 'jp-DataOps-count-pass', title: 'checks passed' }, `${counts.pass || 0} passed`),
            (counts.warn || 0) > 0
              ? h('span', { className: 'jp-DataOps-count-warn', title: 'checks warned' }, ` · ${counts.warn} warned`)
              : null,
            bad > 0
              ? h('span', { className: 'jp-DataOps-count-fail', title: 'checks failed or errored' }, ` · ${bad} failed`)
              : null
          )
        )
      );
    });
    const pager =
      data.total > data.limit
        ? h(
            'div',
            { className: 'jp-DataOps-pager' },
            h(
              'button',
              {
                className: 'jp-mod-styled jp-DataOps-button',
                'data-testid': 'dataops-runs-newer',
                disabled: data.offset === 0,
                onclick: () => {
                  this._runsOffset = Math.max(0, this._runsOffset - PAGE_SIZE);
                  void this._loadRuns();
                }
              },
              'Newer'
            ),
            h(
              'span',
              {},
              `${data.offset + 1}–${Math.min(data.offset + data.limit, data.total)} of ${data.total}`
            ),
            h(
              'button',
              {
                className: 'jp-mod-styled jp-DataOps-button',
                'data-testid': 'dataops-runs-older',
                disabled: data.offset + data.limit >= data.total,
                onclick: () => {
                  this._runsOffset += PAGE_SIZE;
                  void this._loadRuns();
                }
              },
              'Older'
            )
          )
        : null;
    replaceChildren(
      this._runsNode,
      h('h3', {}, title, h('span', { className: 'jp-DataOps-muted' }, ` (${data.total})`)),
      data.hint ? this._hint(data.hint) : null,
      rows.length ? h('ul', { className: 'jp-DataOps-runs' }, rows) : null,
      pager
    );
  }

  private _selectRun(runId: number): void {
    this._selectedRun = runId;
    this._detailKey = '';
    this._runsKey = '';
    this._detailNode.hidden = false;
    replaceChildren(this._detailNode, this._loading(`Loading run #${runId}…`));
    this._detailNode.scrollIntoView({ block: 'nearest' });
    void this._loadRun(runId);
    void this._loadRuns();
  }

  // ---------------------------------------------------------------- one run

  private async _loadRun(runId: number): Promise<void> {
    try {
      const run = await requestAPI<IRunDetail>(`runs/${runId}`);
      if (runId === this._selectedRun) {
        this._renderRun(run);
      }
    } catch (error) {
      this._detailKey = '';
      replaceChildren(
        this._detailNode,
        this._error(`Cannot load run #${runId}: ${errorText(error)}`)
      );
    }
  }

  private _renderRun(run: IRunDetail): void {
    const key = JSON.stringify(run);
    if (key === this._detailKey) {
      return;
    }
    this._detailKey = key;
    const params = Object.entries(run.parameters || {});
    const notebook = run.executed_notebook;
    replaceChildren(
      this._detailNode,
      h(
        'div',
        { className: 'jp-DataOps-detail-head' },
        h('h3', {}, `Run #${run.id} · ${run.step}`),
        badge(run.status),
        h(
          'button',
          {
            className: 'jp-DataOps-link jp-DataOps-close',
            'data-testid': 'dataops-run-detail-close',
            title: 'Close this run',
            onclick: () => {
              this._selectedRun = null;
              this._detailNode.hidden = true;
              this._runsKey = '';
              void this._loadRuns();
            }
          },
          '×'
        )
      ),
      h(
        'div',
        { className: 'jp-DataOps-muted' },
        `${run.pipeline} · ${run.mode} · attempt ${run.attempt} · started ${localTime(run.started_at)} · took ${duration(run.duration)}`
      ),
      run.error
        ? h('pre', { className: 'jp-DataOps-run-error', 'data-testid': 'dataops-run-error' }, run.error)
        : null,
      run.skip_reason ? this._hint(`Skipped: ${run.skip_reason}`) : null,
      h(
        'div',
        { className: 'jp-DataOps-notebook-link' },
        notebook.exists && run.notebook_path
          ? h(
              'button',
              {
                className: 'jp-mod-styled jp-DataOps-button',
                'data-testid': 'dataops-open-notebook',
                'data-path': notebook.path || run.notebook_path,
                title: `Open ${notebook.path || run.notebook_path} (read-only record of this run)`,
                onclick: () =>
                  this._openRun(
                    run.id,
                    (run.notebook_path || '').split('/').pop() || 'notebook.ipynb'
                  )
              },
              'Open executed notebook'
            )
          : h('span', { className: 'jp-DataOps-muted' }, notebook.message || '')
      ),
      h('div', { className: 'jp-DataOps-subtitle' }, 'Parameters'),
      params.length
        ? h(
            'table',
            { className: 'jp-DataOps-table', 'data-testid': 'dataops-parameters' },
            h(
              'tbody',
              {},
              params.map(([name, value]) =>
                h('tr', {}, h('th', {}, name), h('td', {}, formatValue(value)))
              )
            )
          )
        : h('div', { className: 'jp-DataOps-muted' }, 'the notebook\u2019s defaults'),
      h('div', { className: 'jp-DataOps-subtitle' }, 'Checks'),
      run.check_results.length
        ? h(
            'ul',
            { className: 'jp-DataOps-checks', 'data-testid': 'dataops-checks' },
            run.check_results.map(check =>
              h(
                'li',
                {
                  className: `jp-DataOps-check jp-DataOps-check-${check.status}`,
                  'data-testid': 'dataops-check',
                  'data-status': check.status,
                  'data-metric': check.metric || ''
                },
                h(
                  'div',
                  { className: 'jp-DataOps-check-head' },
                  badge(check.status),
                  h('code', {}, check.source)
                ),
                h(
                  'div',
                  { className: 'jp-DataOps-check-meta' },
                  h('span', { 'data-testid': 'dataops-check-observed' }, `observed ${formatValue(check.observed)}`),
                  check.threshold ? h('span', {}, `threshold ${check.threshold}`) : null,
                  check.suite ? h('span', {}, `suite ${check.suite}, line ${check.line}`) : null
                ),
                check.message && check.status !== 'pass'
                  ? h('div', { className: 'jp-DataOps-check-message' }, check.message)
                  : null
              )
            )
          )
        : h(
            'div',
            { className: 'jp-DataOps-muted' },
            run.status === 'running' || run.status === 'queued'
              ? 'the run has not recorded checks yet'
              : 'this run recorded no checks (add a %%dataops_test cell to its notebook)'
          ),
      run.metrics.length
        ? h('div', { className: 'jp-DataOps-subtitle' }, 'Metrics (click for the control chart)')
        : null,
      run.metrics.length
        ? h(
            'ul',
            { className: 'jp-DataOps-metrics' },
            run.metrics.map(m =>
              h(
                'li',
                {},
                h(
                  'button',
                  {
                    className: 'jp-DataOps-link',
                    'data-testid': 'dataops-metric',
                    'data-metric': m.metric,
                    onclick: () => void this._showChart(run.step, m.metric)
                  },
                  m.metric
                ),
                h('span', { className: 'jp-DataOps-muted' }, ` = ${formatValue(m.value)}`)
              )
            )
          )
        : null
    );
  }

  // ---------------------------------------------------------------- control chart

  private async _showChart(
    step: string,
    metric: string,
    chart?: string,
    rules?: string
  ): Promise<void> {
    this._chartNode.hidden = false;
    this._disposeChart();
    const query = new URLSearchParams({ step, metric });
    if (chart) {
      query.set('chart', chart);
    }
    if (rules) {
      query.set('rules', rules);
    }
    replaceChildren(this._chartNode, this._loading(`Loading the control chart of ${metric}…`));
    this._chartNode.scrollIntoView({ block: 'nearest' });
    let data: IMetricChart;
    try {
      data = await requestAPI<IMetricChart>(`metrics?${query.toString()}`);
    } catch (error) {
      replaceChildren(
        this._chartNode,
        h('h3', {}, `${step} · ${metric}`),
        this._error(errorText(error))
      );
      return;
    }
    const select = (
      testid: string,
      label: string,
      options: string[],
      value: string,
      onChange: (v: string) => void
    ): HTMLElement => {
      const el = h(
        'select',
        {
          className: 'jp-mod-styled',
          'data-testid': testid,
          title: label,
          onchange: (ev: Event) => onChange((ev.target as HTMLSelectElement).value)
        },
        options.map(o => h('option', { value: o, selected: o === value }, o))
      );
      return h('label', {}, `${label} `, h('div', { className: 'jp-select-wrapper' }, el));
    };
    const holder = h('div', {
      className: 'jp-DataOps-chart-holder',
      'data-testid': 'dataops-chart-view'
    });
    const limits = Object.entries(data.limits || {}).filter(([, v]) => v !== null);
    replaceChildren(
      this._chartNode,
      h(
        'div',
        { className: 'jp-DataOps-detail-head' },
        h('h3', {}, `${step} · ${metric}`),
        h(
          'button',
          {
            className: 'jp-DataOps-link jp-DataOps-close',
            title: 'Close the chart',
            onclick: () => {
              this._disposeChart();
              this._chartNode.hidden = true;
            }
          },
          '×'
        )
      ),
      h(
        'div',
        { className: 'jp-DataOps-chart-controls' },
        select('dataops-chart-type', 'chart', data.charts, data.chart, v =>
          void this._showChart(step, metric, v, data.rules)
        ),
        select('dataops-chart-rules', 'rules', data.rule_sets, data.rules, v =>
          void this._showChart(step, metric, data.chart, v)
        )
      ),
      h(
        'div',
        { className: 'jp-DataOps-muted', 'data-testid': 'dataops-chart-limits' },
        `${data.points.length} production runs` +
          (limits.length
            ? ' · ' + limits.map(([k, v]) => `${k} ${formatValue(v)}`).join(' · ')
            : '')
      ),
      holder,
      h('div', { className: 'jp-DataOps-subtitle' }, 'Broken rules'),
      data.violations.length
        ? h(
            'ul',
            { className: 'jp-DataOps-violations', 'data-testid': 'dataops-violations' },
            data.violations.map(v => h('li', { 'data-rule': String(v.rule) }, formatViolation(v)))
          )
        : h(
            'div',
            { className: 'jp-DataOps-muted', 'data-testid': 'dataops-violations' },
            'none: the metric is in control'
          )
    );
    // Fit a single (layered) chart to the sidebar's width; concatenated charts keep theirs.
    const spec: Record<string, unknown> = { ...data.spec };
    if (typeof spec.width === 'number' && !spec.hconcat && !spec.vconcat && !spec.concat) {
      spec.width = Math.max(200, Math.min(spec.width, holder.clientWidth - 160));
    }
    const renderer = this._options.rendermime.createRenderer(data.mimetype);
    this._chartWidget = renderer;
    Widget.attach(renderer, holder);
    await renderer.renderModel(
      new MimeModel({ data: { [data.mimetype]: spec as any }, trusted: true })
    );
    this._chartNode.scrollIntoView({ block: 'nearest' });
  }

  private async _promote(): Promise<void> {
    const path = this._options.currentNotebook();
    if (!path) {
      await showDialog({
        title: 'No notebook in focus',
        body: 'Open the parameterized notebook you want to promote, click into it, then press "Promote this notebook" again.',
        buttons: [Dialog.okButton()]
      });
      return;
    }
    const promoted = await promoteNotebook(
      path,
      () => this._options.saveNotebook(path),
      (runId, name) => this._openRun(runId, name)
    );
    if (promoted) {
      this._pipelinesKey = '';
      await this.refresh();
    }
  }

  /** Open a run's executed notebook; a failure is said in the panel, never left unhandled. */
  private _openRun(runId: number, fileName: string): void {
    openExecutedNotebook(this._options.commands, runId, fileName).catch(error =>
      this._say(`Cannot open the executed notebook of run #${runId}: ${errorText(error)}`, 'error')
    );
  }

  private _options: IPanelOptions;
  private _notice: HTMLElement;
  private _pipelinesNode: HTMLElement;
  private _runsNode: HTMLElement;
  private _detailNode: HTMLElement;
  private _chartNode: HTMLElement;
  private _stepMetricsNode: HTMLElement = h('div', {
    className: 'jp-DataOps-step-metrics',
    'data-testid': 'dataops-step-metrics'
  });
  private _chartWidget: Widget | null = null;
  private _timer: number | null = null;
  private _busy = false;
  private _selectedStep: string | null = null;
  private _selectedRun: number | null = null;
  private _runsOffset = 0;
  private _pipelinesKey = '';
  private _runsKey = '';
  private _detailKey = '';
  private _stepMetricsKey = '';
}

function formatViolation(v: Record<string, unknown>): string {
  const when = typeof v.time === 'string' ? ` (${localTime(v.time)})` : '';
  const run = v.step_run_id !== undefined && v.step_run_id !== null ? `run #${v.step_run_id}` : '';
  return `${String(v.rule)}: ${String(v.description ?? '')} — ${run}${when}, value ${formatValue(v.value)}`;
}
