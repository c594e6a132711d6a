import { errorBox, h, hint } from '../dom';
import { errorText } from '../handler';
import { localNumber } from '../locale';
import { DataOpsModel } from '../model';
import { IStepMetrics } from '../types';
import { Section } from './section';

/** The reserved metric keys every production run records (jupyter_dataops/pipeline/observers/operations.py). */
export const OPS_PREFIX = 'ops:';

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
 * by SPC. A metric opens its control chart in a main-area tab, as any metric does.
 */
export class OperationsSection extends Section {
  constructor(model: DataOpsModel) {
    super(model, 'dataops-operations', 'jp-DataOps-operations');
    this.node.hidden = true;
    model.stepChanged.connect(() => {
      this.invalidate();
      void this.load();
    });
  }

  async load(): Promise<void> {
    const step = this.model.selectedStep;
    this.node.hidden = step === null;
    if (step === null) {
      this.invalidate();
      return;
    }
    let metrics: IStepMetrics;
    try {
      metrics = await this.model.client.stepMetrics(step);
    } catch (error) {
      if (step === this.model.selectedStep) {
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
    this.draw(JSON.stringify([step, ops]), () => this._render(step, ops));
  }

  private _title(step: string): HTMLElement {
    return h('h3', { title: `Operations \u00b7 ${step}` }, `Operations \u00b7 ${step}`);
  }

  private _render(step: string, ops: IStepMetrics['metrics']): (HTMLElement | null)[] {
    if (!ops.length) {
      return [
        this._title(step),
        hint(
          `No operational metrics for ${step} yet: every production run (dataops run, Run now, ` +
            'the scheduler) records its duration, queue delay, notebook size, outputs and failing checks.'
        )
      ];
    }
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
                className: 'jp-DataOps-link',
                'data-testid': 'dataops-ops-metric',
                'data-metric': m.metric,
                title: `Open the control chart of ${m.metric} over the production runs of ${step}`,
                onclick: () => this.model.openChart({ step, metric: m.metric })
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
      )
    ];
  }
}
