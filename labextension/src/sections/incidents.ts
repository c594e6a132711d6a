import { Dialog, InputDialog } from '@jupyterlab/apputils';

import { badge, errorBox, h, hint } from '../dom';
import { errorText } from '../handler';
import { localTime, relativeTime } from '../locale';
import { DataOpsModel } from '../model';
import { IIncident, IIncidentList } from '../types';
import { Section } from './section';

const KIND_WORDS: Record<IIncident['kind'], string> = {
  check: 'data test failed',
  step_failed: 'step failed',
  spc: 'SPC signal',
  late: 'partition late',
  reported: 'reported'
};

/**
 * Incidents: one row per open problem (a failing check line, an SPC signal, a failed step, a
 * late partition, a reported problem), with how often and since when, what it affects
 * downstream, the runs behind it (a click selects the run) and Acknowledge / Resolve buttons
 * that ask for a note. The same routes as `dataops incidents` and `dataops incident ack|resolve`.
 */
export class IncidentsSection extends Section {
  constructor(model: DataOpsModel) {
    super(model, 'dataops-incidents-section');
  }

  async load(): Promise<void> {
    try {
      this._render(await this.model.client.incidents());
    } catch (error) {
      this.draw(`error ${errorText(error)}`, () => [
        h('h3', {}, 'Incidents'),
        errorBox(`Cannot load the incidents: ${errorText(error)}`)
      ]);
    }
  }

  private _render(data: IIncidentList): void {
    this.draw(JSON.stringify(data), () => [
      h('h3', {}, `Incidents${data.incidents.length ? ` (${data.incidents.length})` : ''}`),
      data.hint ? hint(data.hint) : null,
      data.incidents.length
        ? h('ul', { className: 'jp-DataOps-incidents' }, data.incidents.map(i => this._row(i)))
        : h('div', { className: 'jp-DataOps-muted', 'data-testid': 'dataops-no-incidents' }, 'No open incidents.')
    ]);
  }

  private _row(incident: IIncident): HTMLElement {
    const affected = [...incident.affected.steps, ...incident.affected.outputs];
    const who = incident.acknowledged_by
      ? `acknowledged by ${incident.acknowledged_by}${incident.acknowledged_note ? `: ${incident.acknowledged_note}` : ''}`
      : null;
    return h(
      'li',
      {
        className: `jp-DataOps-incident jp-DataOps-incident-${incident.status}`,
        'data-testid': 'dataops-incident',
        'data-incident-id': String(incident.id),
        'data-status': incident.status
      },
      h(
        'div',
        { className: 'jp-DataOps-run-head' },
        h(
          'span',
          { className: 'jp-DataOps-run-step', title: `#${incident.id} ${incident.step ?? incident.pipeline}` },
          `#${incident.id} ${incident.step ?? incident.pipeline}`
        ),
        badge(incident.status === 'open' ? 'failed' : 'warn'),
        h('span', { className: 'jp-DataOps-muted' }, KIND_WORDS[incident.kind] ?? incident.kind)
      ),
      h('div', { className: 'jp-DataOps-incident-title', 'data-testid': 'dataops-incident-title' }, incident.title),
      h(
        'div',
        { className: 'jp-DataOps-run-meta' },
        h(
          'span',
          { title: `first seen ${localTime(incident.first_seen)}` },
          `seen ${incident.count}\u00d7, last ${relativeTime(incident.last_seen)}`
        ),
        who ? h('span', { 'data-testid': 'dataops-incident-ack' }, who) : null
      ),
      affected.length
        ? h('div', { className: 'jp-DataOps-muted', 'data-testid': 'dataops-incident-affected' }, `affects ${affected.join(', ')}`)
        : null,
      this._runs(incident),
      h(
        'div',
        { className: 'jp-DataOps-actions' },
        incident.status === 'open'
          ? h(
              'button',
              {
                className: 'jp-mod-styled jp-DataOps-button',
                'data-testid': 'dataops-incident-acknowledge',
                title: 'Say you are on it (recorded with your name and a note)',
                onclick: () => void this._act(incident, 'ack')
              },
              'Acknowledge'
            )
          : null,
        h(
          'button',
          {
            className: 'jp-mod-styled jp-mod-accept jp-DataOps-button',
            'data-testid': 'dataops-incident-resolve',
            title: 'Close it by hand (it also closes itself once its check passes again)',
            onclick: () => void this._act(incident, 'resolve')
          },
          'Resolve'
        )
      )
    );
  }

  private _runs(incident: IIncident): HTMLElement | null {
    const runs = incident.runs.filter(r => r.step_run_id !== null).slice(-5);
    if (!runs.length) {
      return null;
    }
    return h(
      'div',
      { className: 'jp-DataOps-run-meta' },
      'runs: ',
      ...runs.map(r =>
        h(
          'button',
          {
            className: 'jp-DataOps-link',
            'data-testid': 'dataops-incident-run',
            title: `run #${r.step_run_id}${r.partition ? ` for ${r.partition}` : ''}, ${localTime(r.seen_at)}`,
            onclick: () => {
              if (r.step_run_id !== null) {
                this.model.openRun(r.step_run_id);
              }
            }
          },
          `#${r.step_run_id}${r.partition ? ` (${r.partition})` : ''}`
        )
      )
    );
  }

  private async _act(incident: IIncident, action: 'ack' | 'resolve'): Promise<void> {
    const verb = action === 'ack' ? 'Acknowledge' : 'Resolve';
    const answer = await InputDialog.getText({
      title: `${verb} incident #${incident.id}`,
      label: action === 'ack' ? 'What are you doing about it? (optional)' : 'What fixed it? (optional)',
      okLabel: verb,
      cancelLabel: Dialog.cancelButton().label
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      const done = await this.model.client.actOnIncident(incident.id, action, answer.value || null);
      const by = action === 'ack' ? done.acknowledged_by : done.resolved_by;
      this.model.say(`Incident #${done.id} ${done.status} by ${by}.`);
      this.invalidate();
      await this.model.refresh();
    } catch (error) {
      this.model.say(`Could not ${verb.toLowerCase()} incident #${incident.id}: ${errorText(error)}`, 'error');
    }
  }
}
