import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { DataOpsClient } from './client';
import { badge, duration, h } from './dom';
import { errorText } from './handler';
import { localObserved } from './locale';
import { IPromoteResult } from './types';

/** The form asking for the step name, its parameters and an optional schedule. */
class PromoteForm extends Widget {
  constructor(path: string) {
    super();
    this.addClass('jp-DataOps-promote-form');
    const base = path.split('/').pop() || path;
    const suggested = base
      .replace(/\.ipynb$/, '')
      .replace(/[^A-Za-z0-9_-]+/g, '_')
      .replace(/^[^A-Za-z_]+/, '');
    this._step = h('input', {
      type: 'text',
      className: 'jp-mod-styled',
      'data-testid': 'dataops-promote-step',
      value: suggested || 'step',
      placeholder: 'step name, e.g. load_orders'
    }) as HTMLInputElement;
    this._params = h('textarea', {
      className: 'jp-mod-styled',
      rows: 4,
      'data-testid': 'dataops-promote-parameters',
      placeholder: 'one per line, e.g.\nmin_rows = 100\nregion = "EU"'
    }) as HTMLTextAreaElement;
    this._schedule = h('input', {
      type: 'text',
      className: 'jp-mod-styled',
      'data-testid': 'dataops-promote-schedule',
      placeholder: 'cron, e.g. 0 6 * * * (leave empty for none)'
    }) as HTMLInputElement;
    this.node.appendChild(
      h(
        'div',
        {},
        h('p', {}, 'Notebook: ', h('code', {}, path)),
        h(
          'p',
          { className: 'jp-DataOps-muted' },
          'The notebook runs once as a test (its %%dataops_test checks must pass) before it becomes a pipeline step.'
        ),
        h('label', {}, 'Step name', this._step),
        h('label', {}, 'Parameters (override the notebook\u2019s parameters cell)', this._params),
        h('label', {}, 'Schedule', this._schedule)
      )
    );
  }

  getValue(): { step: string; parameters: Record<string, unknown>; schedule: string } {
    return {
      step: this._step.value.trim(),
      parameters: parseParameters(this._params.value),
      schedule: this._schedule.value.trim()
    };
  }

  private _step: HTMLInputElement;
  private _params: HTMLTextAreaElement;
  private _schedule: HTMLInputElement;
}

/**
 * `name = value` lines (or one JSON object) into a parameters object.
 *
 * Values are read as JSON when they parse (numbers, true/false, "quoted strings", lists),
 * otherwise kept as plain text.
 */
export function parseParameters(text: string): Record<string, unknown> {
  const trimmed = text.trim();
  if (!trimmed) {
    return {};
  }
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('parameters must be a JSON object or name = value lines');
    }
    return parsed;
  }
  const out: Record<string, unknown> = {};
  trimmed.split('\n').forEach((line, index) => {
    if (!line.trim() || line.trim().startsWith('#')) {
      return;
    }
    const at = line.indexOf('=');
    if (at < 1) {
      throw new Error(
        `parameters line ${index + 1} ("${line.trim()}") is not name = value`
      );
    }
    const name = line.slice(0, at).trim();
    const raw = line.slice(at + 1).trim();
    let value: unknown = raw;
    try {
      value = JSON.parse(raw.replace(/^'(.*)'$/, '"$1"').replace(/^True$/, 'true').replace(/^False$/, 'false').replace(/^None$/, 'null'));
    } catch {
      value = raw;
    }
    out[name] = value;
  });
  return out;
}

/** Render the gate's answer: promoted or not, why, and the checks it ran. */
function gateResult(result: IPromoteResult, openRun: (runId: number, fileName: string) => void): HTMLElement {
  const notebook = result.executed_notebook;
  const facts: [string, string][] = [['step', result.step]];
  if (result.version) {
    facts.push(['version', String(result.version.version)]);
  }
  if (result.pipeline_file) {
    facts.push(['pipeline file', result.pipeline_file]);
  }
  if (result.gate_run_id !== null) {
    facts.push(['gate run', `#${result.gate_run_id}`]);
  }
  if (result.duration !== undefined && result.duration !== null) {
    facts.push(['took', duration(result.duration)]);
  }
  const gateRunId = result.gate_run_id;
  return h(
    'div',
    {
      className: 'jp-DataOps-gate',
      'data-testid': 'dataops-gate-result',
      'data-promoted': result.promoted ? 'true' : 'false'
    },
    h(
      'p',
      {},
      badge(result.promoted ? 'success' : 'failed'),
      ' ',
      result.promoted ? 'Promoted.' : 'Not promoted: the gate did not pass.'
    ),
    result.message ? h('pre', { className: 'jp-DataOps-gate-message' }, result.message) : null,
    result.failures && result.failures.length
      ? h(
          'ul',
          { className: 'jp-DataOps-gate-failures', 'data-testid': 'dataops-gate-failures' },
          result.failures.map(f => h('li', {}, f))
        )
      : null,
    gateRunId !== null && notebook?.exists
      ? h(
          'button',
          {
            className: 'jp-mod-styled jp-DataOps-button',
            'data-testid': 'dataops-gate-notebook',
            onclick: () => {
              const name = (notebook.path || 'gate.ipynb').split('/').pop();
              openRun(gateRunId, name || 'gate.ipynb');
            }
          },
          'Open the gate run\u2019s executed notebook'
        )
      : null,
    h(
      'table',
      { className: 'jp-DataOps-table' },
      h('tbody', {}, facts.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))
    ),
    result.checks.length
      ? h(
          'table',
          { className: 'jp-DataOps-table' },
          h(
            'tbody',
            {},
            result.checks.map(c =>
              h(
                'tr',
                { 'data-testid': 'dataops-gate-check', 'data-status': c.status },
                h('td', {}, badge(c.status)),
                h('td', {}, h('code', {}, c.source || ''), c.status !== 'pass' && c.message ? h('div', { className: 'jp-DataOps-check-message' }, c.message) : null),
                h('td', {}, localObserved(c)),
                h('td', {}, c.threshold ?? '')
              )
            )
          )
        )
      : null
  );
}

/**
 * Ask for the step name and parameters, POST /dataops/api/promote, show the gate's result.
 *
 * Returns true when the notebook was promoted. Never rejects: every failure is shown in a
 * dialog. Our dialogs are closed with `Dialog.reject()`/`resolve()` (which settle their promise
 * cleanly), never `dispose()`/`Dialog.flush()`: disposing a Lab dialog rejects its promise with
 * `undefined`, and one not shown yet (queued behind another) has no handler on that promise, so
 * the page gets an uncaught "undefined" rejection; `flush()` would also close other extensions'
 * dialogs.
 */
export async function promoteNotebook(
  client: DataOpsClient,
  path: string,
  save: () => Promise<void>,
  openRun: (runId: number, fileName: string) => void
): Promise<boolean> {
  const form = new PromoteForm(path);
  let value: { step: string; parameters: Record<string, unknown>; schedule: string };
  try {
    // On accept the dialog calls form.getValue(): bad parameters reject here.
    const answer = await showDialog({
      title: 'Promote this notebook',
      body: form,
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Promote' })]
    });
    if (!answer.button.accept || !answer.value) {
      return false;
    }
    value = answer.value;
  } catch (error) {
    if (error === undefined) {
      return false; // the dialog was disposed (Lab rejects with no reason)
    }
    await showDialog({
      title: 'Cannot read the parameters',
      body: `${String(error)}. Write one "name = value" per line, or a JSON object.`,
      buttons: [Dialog.okButton()]
    });
    return false;
  }
  try {
    await save();
  } catch (error) {
    await showDialog({
      title: 'Cannot save the notebook',
      body: `${String(error)}. Save it yourself, then promote again.`,
      buttons: [Dialog.okButton()]
    });
    return false;
  }
  const waitingBody = new Widget();
  waitingBody.node.appendChild(
    h(
      'div',
      { 'data-testid': 'dataops-promote-waiting' },
      `Running ${path} as a test before promotion; this takes as long as the notebook.`
    )
  );
  const waitingDialog = new Dialog({
    title: 'Promoting…',
    body: waitingBody,
    buttons: []
  });
  const waiting = waitingDialog.launch();
  let result: IPromoteResult | null = null;
  let failure: string | null = null;
  try {
    result = await client.promote({
      notebook: path,
      step: value.step,
      parameters: value.parameters,
      schedule: value.schedule || null
    });
  } catch (error) {
    failure = errorText(error);
  }
  waitingDialog.reject(); // settles `waiting` even if it was never shown
  await waiting.catch(() => undefined);
  const body = new Widget();
  const resultDialog = new Dialog({
    title: result ? `Promotion of ${value.step}` : 'Promotion failed',
    body,
    buttons: [Dialog.okButton()]
  });
  body.node.appendChild(
    result
      ? gateResult(result, (runId, name) => {
          resultDialog.resolve(0); // close it cleanly, then open the notebook
          openRun(runId, name);
        })
      : h('div', { 'data-testid': 'dataops-gate-result' }, badge('failed'), ' ', failure || '')
  );
  await resultDialog.launch().catch(() => undefined);
  return result !== null && result.promoted;
}
