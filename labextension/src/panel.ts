import { Dialog, showDialog } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { DataOpsClient } from './client';
import { h } from './dom';
import { openExecutedNotebook } from './drive';
import { errorText } from './handler';
import { dataopsIcon } from './icons';
import { DataOpsModel } from './model';
import { promoteNotebook } from './promote';
import { ChartSection } from './sections/chart';
import { GridSection } from './sections/grid';
import { IncidentsSection } from './sections/incidents';
import { OperationsSection } from './sections/operations';
import { PipelinesSection } from './sections/pipelines';
import { RunDetailSection } from './sections/run_detail';
import { RunsSection } from './sections/runs';
import { SchedulerSection } from './sections/scheduler';

export { POLL_INTERVAL_MS } from './model';

export interface IPanelOptions {
  commands: CommandRegistry;
  rendermime: IRenderMimeRegistry;
  /** The path (relative to the Jupyter root) of the notebook in focus, if any. */
  currentNotebook: () => string | null;
  /** Save the notebook at `path` if it has unsaved changes. */
  saveNotebook: (path: string) => Promise<void>;
  /** The REST client (one per panel by default). */
  client?: DataOpsClient;
}

/**
 * The DataOps sidebar: a header (refresh, promote, a notice line) over section widgets that
 * share one model (`model.ts`: client, selected step/run/chart, polling). Sections, top down:
 * the scheduler's state, open incidents, pipelines → steps, the grid of partitions × steps, recent runs, the
 * selected run, a metric's control chart, the selected step's operations (its runs' own SPC).
 */
export class DataOpsPanel extends Panel {
  readonly model: DataOpsModel;

  constructor(options: IPanelOptions) {
    super();
    this._options = options;
    this.id = 'jupyter-dataops-panel';
    this.addClass('jp-DataOps-panel');
    this.title.icon = dataopsIcon;
    this.title.caption = 'DataOps: pipelines, runs and control charts';
    this.model = new DataOpsModel(options.client ?? new DataOpsClient());
    this.model.noticeChanged.connect((_, notice) => {
      this._notice.className = `jp-DataOps-notice jp-DataOps-notice-${notice.kind}`;
      this._notice.textContent = notice.text;
    });
    this.addWidget(new Widget({ node: this._header() }));
    const openRun = (runId: number, fileName: string) => this._openRun(runId, fileName);
    this.addWidget(new SchedulerSection(this.model));
    this.addWidget(new IncidentsSection(this.model));
    this.addWidget(new PipelinesSection(this.model));
    this.addWidget(new GridSection(this.model));
    this.addWidget(new RunsSection(this.model));
    this.addWidget(new RunDetailSection(this.model, openRun));
    this.addWidget(new ChartSection(this.model, options.rendermime));
    this.addWidget(new OperationsSection(this.model, options.rendermime));
  }

  /** Reload everything the panel shows. */
  refresh(): Promise<void> {
    return this.model.refresh();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._startPolling();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._startPolling();
    }
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this.model.stopPolling();
  }

  protected onBeforeDetach(msg: Message): void {
    this.model.stopPolling();
    super.onBeforeDetach(msg);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    super.dispose(); // sections first: they unregister from the model
    this.model.dispose();
  }

  private _startPolling(): void {
    void this.refresh();
    this.model.startPolling(() => this.isVisible);
  }

  private _header(): HTMLElement {
    return h(
      'div',
      { className: 'jp-DataOps-top' },
      h(
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
              className: 'jp-mod-styled jp-mod-accept jp-DataOps-button jp-DataOps-promote',
              'data-testid': 'dataops-promote',
              title: 'Promote the notebook in focus into a pipeline step (runs its checks first)',
              onclick: () =>
                this._promote().catch(error =>
                  this.model.say(`Could not promote: ${errorText(error)}`, 'error')
                )
            },
            'Promote this notebook'
          )
        )
      ),
      this._notice
    );
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
      this.model.client,
      path,
      () => this._options.saveNotebook(path),
      (runId, name) => this._openRun(runId, name)
    );
    if (promoted) {
      await this.refresh();
    }
  }

  /** Open a run's executed notebook; a failure is said in the panel, never left unhandled. */
  private _openRun(runId: number, fileName: string): void {
    openExecutedNotebook(this._options.commands, runId, fileName).catch(error =>
      this.model.say(
        `Cannot open the executed notebook of run #${runId}: ${errorText(error)}`,
        'error'
      )
    );
  }

  private _options: IPanelOptions;
  private _notice = h('div', {
    className: 'jp-DataOps-notice',
    'data-testid': 'dataops-notice',
    role: 'status'
  });
}
