import { badge, duration, errorBox, formatValue, h, hint, loading, replaceChildren } from '../dom';
import { localNumber, localObserved, localTime } from '../locale';
import { errorText } from '../handler';
import { DataOpsModel } from '../model';
import { ICheckResult, IRunDetail } from '../types';
import { unpromotedLabel } from './runs';
import { Section } from './section';

/** Opens a run's executed notebook (read-only) in Lab. */
export type OpenRun = (runId: number, fileName: string) => void;

/** Told each run as it is loaded (the tab names itself after the run's step). */
export type RunLoaded = (run: IRunDetail) => void;

/** The selected run of its model (a run's main-area tab): its parameters, checks, metrics and
 * executed notebook. */
export class RunDetailSection extends Section {
  constructor(
    model: DataOpsModel,
    private readonly _openRun: OpenRun,
    private readonly _loaded: RunLoaded = () => undefined
  ) {
    super(model, 'dataops-run-detail', 'jp-DataOps-detail');
    this.node.hidden = true;
    model.runChanged.connect((_, runId) => {
      this.invalidate();
      this.node.hidden = runId === null;
      if (runId !== null) {
        replaceChildren(this.node, loading(`Loading run #${runId}\u2026`));
        void this.load();
      }
    });
  }

  async load(): Promise<void> {
    const runId = this.model.selectedRun;
    if (runId === null) {
      return;
    }
    try {
      const run = await this.model.client.run(runId);
      if (runId === this.model.selectedRun) {
        this.draw(JSON.stringify(run), () => this._render(run));
        this._loaded(run);
      }
    } catch (error) {
      if (runId === this.model.selectedRun) {
        this.draw(`error ${runId}`, () => [
          errorBox(`Cannot load run #${runId}: ${errorText(error)}`)
        ]);
      }
    }
  }

  private _render(run: IRunDetail): (HTMLElement | null)[] {
    const params = Object.entries(run.parameters || {});
    const notebook = run.executed_notebook;
    const fileName = (run.notebook_path || '').split('/').pop() || 'notebook.ipynb';
    return [
      h(
        'div',
        { className: 'jp-DataOps-detail-head' },
        h('h3', {}, `Run #${run.id} \u00b7 ${run.step}`),
        run.partition
          ? h('span', { className: 'jp-DataOps-muted', 'data-testid': 'dataops-run-partition' }, `for ${run.partition}`)
          : null,
        run.unpromoted ? unpromotedLabel() : null,
        badge(run.status)
      ),
      h(
        'div',
        { className: 'jp-DataOps-muted', 'data-testid': 'dataops-run-summary' },
        `${run.pipeline} \u00b7 ${run.mode} \u00b7 attempt ${run.attempt}` +
          (run.version ? ` \u00b7 version ${run.version.version}` : '') +
          ` \u00b7 started ${localTime(run.started_at) || '\u2014'} \u00b7 took ${duration(run.duration)}`
      ),
      run.unpromoted
        ? hint('This production run executed the working notebook, not the promoted version.')
        : null,
      run.error
        ? h('pre', { className: 'jp-DataOps-run-error', 'data-testid': 'dataops-run-error' }, run.error)
        : null,
      run.skip_reason ? hint(`Skipped: ${run.skip_reason}`) : null,
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
                onclick: () => this._openRun(run.id, fileName)
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
              params.map(([name, value]) => h('tr', {}, h('th', {}, name), h('td', {}, formatValue(value))))
            )
          )
        : h('div', { className: 'jp-DataOps-muted' }, 'the notebook\u2019s defaults'),
      h('div', { className: 'jp-DataOps-subtitle' }, 'Checks'),
      run.check_results.length
        ? h(
            'ul',
            { className: 'jp-DataOps-checks', 'data-testid': 'dataops-checks' },
            run.check_results.map(check => checkItem(check))
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
                    onclick: () => {
                      this.model.openChart({ step: run.step, metric: m.metric });
                    }
                  },
                  m.metric
                ),
                h('span', { className: 'jp-DataOps-muted' }, ` = ${localNumber(m.value)}`)
              )
            )
          )
        : null
    ];
  }
}

/** One check line: its status, source, observed value (in the browser's locale) and message. */
export function checkItem(check: ICheckResult): HTMLElement {
  const observed = localObserved(check);
  // A line not judged yet, a warning or a failure always says why.
  const message = check.message && check.status !== 'pass' ? check.message : null;
  return h(
    'li',
    {
      className: `jp-DataOps-check jp-DataOps-check-${check.status}`,
      'data-testid': 'dataops-check',
      'data-status': check.status,
      'data-metric': check.metric || ''
    },
    h('div', { className: 'jp-DataOps-check-head' }, badge(check.status), h('code', {}, check.source || '')),
    h(
      'div',
      { className: 'jp-DataOps-check-meta' },
      h('span', { 'data-testid': 'dataops-check-observed' }, `observed ${observed}`),
      check.threshold ? h('span', {}, `threshold ${check.threshold}`) : null,
      check.suite ? h('span', {}, `suite ${check.suite}, line ${check.line ?? '\u2014'}`) : null
    ),
    message ? h('div', { className: 'jp-DataOps-check-message', 'data-testid': 'dataops-check-message' }, message) : null
  );
}
