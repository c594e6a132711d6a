import { badge, duration, errorBox, h, hint, pager } from '../dom';
import { localTime, relativeTime } from '../locale';
import { errorText } from '../handler';
import { DataOpsModel } from '../model';
import { IRunList, IRunRow } from '../types';
import { Section } from './section';

const PAGE_SIZE = 20;

/** Said on a production run of the working notebook rather than the promoted version. */
export const UNPROMOTED_TITLE =
  'this production run executed the working notebook, not the promoted version';

/** A run's parameters in one line, as `dataops runs` shows them: `day=2026-09-01, n_rows=50`. */
export function parametersText(parameters: Record<string, unknown> | null | undefined): string {
  return Object.entries(parameters || {})
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

/** Recent runs (of the selected step, or all), newest first, paged; a click opens the run's tab. */
export class RunsSection extends Section {
  constructor(model: DataOpsModel) {
    super(model, 'dataops-runs');
    model.stepChanged.connect(() => {
      this._offset = 0;
      void this.load();
    });
    model.runChanged.connect(() => {
      if (this._data) {
        this._render(this._data);
      }
    });
  }

  async load(): Promise<void> {
    const step = this.model.selectedStep;
    try {
      const data = await this.model.client.runs({
        step,
        limit: PAGE_SIZE,
        offset: this._offset
      });
      if (step === this.model.selectedStep) {
        this._data = data;
        this._render(data);
      }
    } catch (error) {
      this._data = null;
      this.draw(`error ${errorText(error)}`, () => [
        h('h3', {}, 'Recent runs'),
        errorBox(`Cannot load the runs: ${errorText(error)}`)
      ]);
    }
  }

  private _render(data: IRunList): void {
    const step = this.model.selectedStep;
    this.draw(JSON.stringify(data) + String(this.model.selectedRun), () => [
      h(
        'h3',
        { title: step ? `Recent runs of ${step}` : '' },
        step ? `Recent runs of ${step}` : 'Recent runs',
        h('span', { className: 'jp-DataOps-muted' }, ` (${data.total})`)
      ),
      data.hint ? hint(data.hint) : null,
      data.runs.length
        ? h('ul', { className: 'jp-DataOps-runs' }, data.runs.map(run => this._row(run)))
        : null,
      data.total > data.limit ? pager(data, 'dataops-runs', offset => this._page(offset)) : null
    ]);
  }

  private _row(run: IRunRow): HTMLElement {
    const counts = run.checks;
    const bad = counts.fail + counts.error;
    const selected = run.id === this.model.selectedRun;
    const when = run.started_at || run.created_at;
    const params = parametersText(run.parameters);
    return h(
      'li',
      {
        className: `jp-DataOps-run${selected ? ' jp-mod-selected' : ''}`,
        'data-testid': 'dataops-run',
        'data-run-id': run.id,
        'data-step': run.step,
        'data-status': run.status,
        title: 'Open this run\u2019s checks and parameters in a tab',
        onclick: () => {
          this.model.openRun(run.id);
        }
      },
      h(
        'div',
        { className: 'jp-DataOps-run-head' },
        h('span', { className: 'jp-DataOps-run-id' }, `#${run.id}`),
        h('span', { className: 'jp-DataOps-run-step', title: run.step }, run.step),
        run.partition
          ? h(
              'span',
              { className: 'jp-DataOps-muted', 'data-testid': 'dataops-run-partition', title: 'the period this run is for' },
              `for ${run.partition}`
            )
          : null,
        run.mode !== 'production' ? h('span', { className: 'jp-DataOps-muted' }, run.mode) : null,
        run.unpromoted ? unpromotedLabel() : null,
        badge(run.status)
      ),
      h(
        'div',
        { className: 'jp-DataOps-run-meta' },
        h('span', { title: localTime(when), 'data-testid': 'dataops-run-when' }, relativeTime(when)),
        h('span', {}, `took ${duration(run.duration)}`),
        run.attempt > 1 ? h('span', {}, `attempt ${run.attempt}`) : null,
        h(
          'span',
          { className: 'jp-DataOps-counts', 'data-testid': 'dataops-run-counts' },
          h('span', { className: 'jp-DataOps-count-pass', title: 'checks passed' }, `${counts.pass} passed`),
          counts.warn > 0
            ? h('span', { className: 'jp-DataOps-count-warn', title: 'checks warned' }, ` \u00b7 ${counts.warn} warned`)
            : null,
          bad > 0
            ? h('span', { className: 'jp-DataOps-count-fail', title: 'checks failed or errored' }, ` \u00b7 ${bad} failed`)
            : null,
          counts.baseline
            ? h(
                'span',
                {
                  className: 'jp-DataOps-count-baseline',
                  title: 'spc lines still collecting their baseline (not judged)'
                },
                ` \u00b7 ${counts.baseline} not judged`
              )
            : null
        )
      ),
      params
        ? h(
            'div',
            { className: 'jp-DataOps-run-params jp-DataOps-muted', 'data-testid': 'dataops-run-parameters', title: params },
            params
          )
        : null
    );
  }

  private _page(offset: number): void {
    this._offset = offset;
    void this.load();
  }

  private _offset = 0;
  private _data: IRunList | null = null;
}

/** The "unpromoted" mark of a run. */
export function unpromotedLabel(): HTMLElement {
  return h(
    'span',
    {
      className: 'jp-DataOps-unpromoted',
      'data-testid': 'dataops-run-unpromoted',
      title: UNPROMOTED_TITLE
    },
    'unpromoted'
  );
}
