import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { DataOpsClient } from './client';
import { openExecutedNotebook } from './drive';
import { errorText } from './handler';
import { dataopsIcon } from './icons';
import { DataOpsModel, IChartSelection } from './model';
import { noticeLine, PollingPanel } from './polling';
import { ChartSection } from './sections/chart';
import { RunDetailSection } from './sections/run_detail';
import { IRunDetail } from './types';

/** The commands that open a run's detail and a metric's control chart in the main area. */
export const OPEN_RUN_COMMAND = 'dataops:open-run';
export const OPEN_CHART_COMMAND = 'dataops:open-chart';

/** What opens a tab again: the arguments of its command (saved in the workspace). */
export type TabArgs = { runId: number } | { step: string; metric: string };

/** "run #12 · orders" (the step once it is known). */
export function runTitle(runId: number, step?: string | null): string {
  return step ? `run #${runId} \u00b7 ${step}` : `run #${runId}`;
}

/** "orders · row_count". */
export function chartTitle(selection: IChartSelection): string {
  return `${selection.step} \u00b7 ${selection.metric}`;
}

/** The content of one DataOps tab: its own model (polling while the tab is visible, stopped
 * when the tab is closed), a notice line and one section. */
export class TabContent extends PollingPanel {
  constructor(
    model: DataOpsModel,
    readonly args: TabArgs
  ) {
    super(model);
    this.addClass('jp-DataOps-tab');
    this.addWidget(new Widget({ node: noticeLine(model) }));
  }
}

export interface ITabsOptions {
  shell: JupyterFrontEnd.IShell;
  commands: CommandRegistry;
  rendermime: IRenderMimeRegistry;
  client: DataOpsClient;
}

/**
 * Main-area tabs, as JupyterLab's own extensions keep details out of the sidebar: one per run
 * (its checks, parameters, metrics) and one per step and metric (its control chart, as wide as
 * the tab). Asking again for one already open activates it. A link inside a tab (a run's
 * metric) opens its own tab the same way. The tracker lets the layout restorer reopen them.
 */
export class DataOpsTabs {
  /** The open run tabs and chart tabs (the layout restorer reopens them by their commands). */
  readonly runs = new WidgetTracker<MainAreaWidget<TabContent>>({ namespace: 'dataops-run' });
  readonly charts = new WidgetTracker<MainAreaWidget<TabContent>>({ namespace: 'dataops-chart' });

  constructor(private readonly _options: ITabsOptions) {}

  /** Open (or activate) the tab of run `runId`. */
  openRun(runId: number): MainAreaWidget {
    const id = `jupyter-dataops-run-${runId}`;
    return this._open(this.runs, id, () => {
      const model = this._model();
      const args = { runId };
      const content = new TabContent(model, args);
      const widget = this._widget(id, content, runTitle(runId));
      const section = new RunDetailSection(
        model,
        (run, fileName) => this._openNotebook(model, run, fileName),
        (run: IRunDetail) => {
          widget.title.label = runTitle(run.id, run.step);
          widget.title.caption = `Run #${run.id} of ${run.step} (${run.pipeline}): ${run.status}`;
        }
      );
      content.addWidget(section);
      model.selectedRun = runId;
      return widget;
    });
  }

  /** Open (or activate) the control chart tab of one step's metric. */
  openChart(selection: IChartSelection): MainAreaWidget {
    const { step, metric } = selection;
    const id = `jupyter-dataops-chart-${encodeURIComponent(step)}-${encodeURIComponent(metric)}`;
    return this._open(this.charts, id, () => {
      const model = this._model();
      const content = new TabContent(model, { step, metric });
      const widget = this._widget(id, content, chartTitle(selection));
      widget.title.caption = `Control chart of ${metric} over the production runs of ${step}`;
      content.addWidget(new ChartSection(model, this._options.rendermime));
      model.chart = { step, metric };
      return widget;
    });
  }

  /** The open tab called `id`, activated, or a new one made by `make`. */
  private _open(
    tracker: WidgetTracker<MainAreaWidget<TabContent>>,
    id: string,
    make: () => MainAreaWidget<TabContent>
  ): MainAreaWidget {
    let widget = tracker.find(w => w.id === id);
    if (!widget) {
      widget = make();
      void tracker.add(widget);
      this._options.shell.add(widget, 'main');
    }
    this._options.shell.activateById(widget.id);
    return widget;
  }

  private _widget(id: string, content: TabContent, label: string): MainAreaWidget<TabContent> {
    const widget = new MainAreaWidget({ content });
    widget.id = id;
    widget.addClass('jp-DataOps-tab-widget');
    widget.title.label = label;
    widget.title.icon = dataopsIcon;
    widget.title.closable = true;
    return widget;
  }

  /** A tab's model: its links to runs and charts open their own tabs. */
  private _model(): DataOpsModel {
    const model = new DataOpsModel(this._options.client);
    model.runOpened.connect((_, runId) => void this.openRun(runId));
    model.chartOpened.connect((_, selection) => void this.openChart(selection));
    return model;
  }

  private _openNotebook(model: DataOpsModel, runId: number, fileName: string): void {
    openExecutedNotebook(this._options.commands, runId, fileName).catch(error =>
      model.say(`Cannot open the executed notebook of run #${runId}: ${errorText(error)}`, 'error')
    );
  }
}
