import { badge, errorBox, h, hint, replaceChildren } from '../dom';
import { localNumber, localTime, relativeTime } from '../locale';
import { errorText } from '../handler';
import { DataOpsModel } from '../model';
import { IPipelineList, IStep, IStepMetrics } from '../types';
import { Section } from './section';

/** Said on a step whose working notebook is not the promoted version. */
export const EDITED_SINCE_PROMOTION =
  'edited since promotion \u2014 promote again to put the change in production';

/**
 * Pipelines → steps: last and next run, "Run now", and the metrics of the selected step
 * (selecting a step filters the runs and lists its metrics; a metric opens its chart).
 */
export class PipelinesSection extends Section {
  constructor(model: DataOpsModel) {
    super(model, 'dataops-pipelines');
    this._metrics = new StepMetricsList(model);
    model.stepChanged.connect(() => {
      this.invalidate();
      this._metrics.clear();
      if (this._data) {
        this._render(this._data);
      }
      void this._metrics.load();
    });
    this._unregisterMetrics = model.addLoader(() => this._metrics.load());
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._unregisterMetrics();
    }
    super.dispose();
  }

  async load(): Promise<void> {
    try {
      this._data = await this.model.client.pipelines();
      this._render(this._data);
    } catch (error) {
      this._data = null;
      this.invalidate();
      replaceChildren(
        this.node,
        h('h3', {}, 'Pipelines'),
        errorBox(`Cannot load the pipelines: ${errorText(error)}`)
      );
    }
  }

  private _render(data: IPipelineList): void {
    this.draw(JSON.stringify(data) + String(this.model.selectedStep), () => [
      h('h3', {}, 'Pipelines'),
      data.hint ? hint(data.hint) : null,
      data.pipelines.map(pipeline =>
        h(
          'div',
          {
            className: 'jp-DataOps-pipeline',
            'data-testid': 'dataops-pipeline',
            'data-name': pipeline.name
          },
          h(
            'div',
            {
              className: 'jp-DataOps-pipeline-name',
              title: `pipeline ${pipeline.name}` + (data.pipeline_file ? ` \u2014 ${data.pipeline_file}` : '')
            },
            pipeline.name,
            data.pipeline_file
              ? h('span', { className: 'jp-DataOps-muted' }, ` \u2014 ${data.pipeline_file}`)
              : null
          ),
          h(
            'ul',
            { className: 'jp-DataOps-steps' },
            pipeline.steps.map(step => this._stepRow(step))
          )
        )
      )
    ]);
  }

  private _stepRow(step: IStep): HTMLElement {
    const selected = this.model.selectedStep === step.name;
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
              ? `${step.name}: show the runs of every step`
              : `Show only the runs and metrics of ${step.name}`,
            'data-testid': 'dataops-step-select',
            onclick: () => {
              this.model.selectedStep = selected ? null : step.name;
            }
          },
          step.name
        ),
        badge(last ? last.status : null),
        h(
          'button',
          {
            className: 'jp-mod-styled jp-DataOps-button jp-DataOps-run-now',
            'data-testid': 'dataops-run-now',
            title: `Run ${step.name} now (dataops run ${step.name})`,
            onclick: () => void this._runNow(step.name)
          },
          'Run now'
        )
      ),
      step.edited_since_promotion
        ? h(
            'div',
            { className: 'jp-DataOps-edited', 'data-testid': 'dataops-step-edited' },
            EDITED_SINCE_PROMOTION
          )
        : null,
      h(
        'div',
        { className: 'jp-DataOps-step-meta' },
        h('span', { title: step.notebook || '' }, step.notebook || 'notebook missing'),
        step.latest_version
          ? h(
              'span',
              {
                'data-testid': 'dataops-step-version',
                title: step.latest_version.promoted_at
                  ? `promoted ${localTime(step.latest_version.promoted_at)}` +
                    (step.latest_version.promoted_by ? ` by ${step.latest_version.promoted_by}` : '')
                  : ''
              },
              `version ${step.latest_version.version}`
            )
          : null,
        h(
          'span',
          { 'data-testid': 'dataops-last-run', title: last ? localTime(last.started_at) : '' },
          last ? `last run ${relativeTime(last.started_at)}` : 'never run'
        ),
        h(
          'span',
          {
            'data-testid': 'dataops-next-run',
            title: step.schedule ? `cron: ${step.schedule} \u2014 ${localTime(step.next_run)}` : ''
          },
          step.schedule ? `next ${relativeTime(step.next_run)} (${step.schedule})` : 'not scheduled'
        ),
        step.depends_on.length ? h('span', {}, `after ${step.depends_on.join(', ')}`) : null
      ),
      selected ? this._metrics.node : null
    );
  }

  private async _runNow(step: string): Promise<void> {
    this.model.say(`Starting ${step}\u2026`);
    try {
      const started = await this.model.client.runStep(step);
      const which = started.step_run_id !== null ? `run #${started.step_run_id}` : 'a run';
      this.model.say(`Started ${which} of ${step}. It appears below.`);
      await this.model.refresh();
    } catch (error) {
      this.model.say(`Could not run ${step}: ${errorText(error)}`, 'error');
    }
  }

  private _data: IPipelineList | null = null;
  private _metrics: StepMetricsList;
  private _unregisterMetrics: () => void;
}

/** The metrics of the selected step, shown inside its row; each opens its control chart. */
class StepMetricsList {
  readonly node = h('div', {
    className: 'jp-DataOps-step-metrics',
    'data-testid': 'dataops-step-metrics'
  });

  constructor(private readonly _model: DataOpsModel) {}

  clear(): void {
    this._key = '';
    replaceChildren(this.node);
  }

  async load(): Promise<void> {
    const step = this._model.selectedStep;
    if (step === null) {
      return;
    }
    let data: IStepMetrics;
    try {
      data = await this._model.client.stepMetrics(step);
    } catch (error) {
      this._key = '';
      replaceChildren(this.node, errorBox(`Cannot load the metrics of ${step}: ${errorText(error)}`));
      return;
    }
    const key = JSON.stringify(data);
    if (step !== this._model.selectedStep || (key === this._key && this.node.firstChild)) {
      return;
    }
    this._key = key;
    replaceChildren(
      this.node,
      h('div', { className: 'jp-DataOps-subtitle' }, 'Metrics'),
      data.hint ? hint(data.hint) : null,
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
                onclick: () => {
                  this._model.openChart({ step, metric: m.metric });
                }
              },
              m.metric
            ),
            h(
              'span',
              { className: 'jp-DataOps-muted' },
              ` ${localNumber(m.last_value)} \u00b7 ${m.points} point${m.points === 1 ? '' : 's'}`
            )
          )
        )
      )
    );
  }

  private _key = '';
}
