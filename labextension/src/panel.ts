import { Dialog, showDialog } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { DataOpsClient } from './client';
import { h } from './dom';
import { openExecutedNotebook } from './drive';
import { errorText } from './handler';
import { dataopsIcon } from './icons';
import { DataOpsModel } from './model';
import { noticeLine, PollingPanel } from './polling';
import { promoteNotebook } from './promote';
import { GridSection } from './sections/grid';
import { IncidentsSection } from './sections/incidents';
import { OperationsSection } from './sections/operations';
import { PipelinesSection } from './sections/pipelines';
import { RunsSection } from './sections/runs';
import { SchedulerSection } from './sections/scheduler';

export { POLL_INTERVAL_MS } from './model';

export interface IPanelOptions {
  commands: CommandRegistry;
  /** The path (relative to the Jupyter root) of the notebook in focus, if any. */
  currentNotebook: () => string | null;
  /** Save the notebook at `path` if it has unsaved changes. */
  saveNotebook: (path: string) => Promise<void>;
  /** The REST client (one per panel by default). */
  client?: DataOpsClient;
}

/**
 * The DataOps sidebar: a header (refresh, promote, a notice line) over the lists, section
 * widgets that share one model (`model.ts`: client, selected step and run, polling). Sections,
 * top down: the scheduler's state, open incidents, pipelines → steps (and the selected step's
 * metrics), the grid of partitions × steps, recent runs, the selected step's operations metrics.
 * A run's detail and a metric's control chart open in main-area tabs (`tabs.ts`), asked for
 * through the model's `runOpened` and `chartOpened`.
 */
export class DataOpsPanel extends PollingPanel {
  constructor(options: IPanelOptions) {
    super(new DataOpsModel(options.client ?? new DataOpsClient()));
    this._options = options;
    this._notice = noticeLine(this.model);
    this.id = 'jupyter-dataops-panel';
    this.addClass('jp-DataOps-panel');
    this.title.icon = dataopsIcon;
    this.title.caption = 'DataOps: pipelines, runs and control charts';
    this.addWidget(new Widget({ node: this._header() }));
    this.addWidget(new SchedulerSection(this.model));
    this.addWidget(new IncidentsSection(this.model));
    this.addWidget(new PipelinesSection(this.model));
    this.addWidget(new GridSection(this.model));
    this.addWidget(new RunsSection(this.model));
    this.addWidget(new OperationsSection(this.model));
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
  private _notice: HTMLElement;
}
