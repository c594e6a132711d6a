import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, InputDialog } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { DataOpsClient } from './client';
import { ExecutedNotebookDrive } from './drive';
import { dataopsIcon } from './icons';
import { DataOpsPanel } from './panel';
import { DataOpsTabs, OPEN_CHART_COMMAND, OPEN_RUN_COMMAND } from './tabs';

const PLUGIN_ID = 'jupyter-dataops:panel';
const OPEN_COMMAND = 'dataops:open-panel';

/** The path of a document widget (notebook) if `widget` is one. */
function notebookPath(widget: Widget | null): string | null {
  const context = (widget as any)?.context;
  const path: unknown = context?.path;
  return typeof path === 'string' && path.endsWith('.ipynb') ? path : null;
}

/** The DataOps sidebar (pipelines, runs, the grid, incidents, the scheduler) and its main-area
 * tabs (a run's detail, a metric's control chart), opened by commands. */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A sidebar panel with DataOps pipelines, run history, checks and control charts.',
  autoStart: true,
  requires: [ILabShell, IRenderMimeRegistry],
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const client = new DataOpsClient();
    app.serviceManager.contents.addDrive(new ExecutedNotebookDrive(client));
    // The notebook in focus: the main-area widget last activated that is a notebook.
    let lastNotebook: string | null = notebookPath(labShell.currentWidget);
    labShell.currentChanged.connect((_, change) => {
      const path = notebookPath(change.newValue);
      if (path !== null || change.newValue === null) {
        lastNotebook = path;
      }
    });
    const tabs = new DataOpsTabs({ shell: app.shell, commands: app.commands, rendermime, client });
    addTabCommands(app, tabs);
    const panel = new DataOpsPanel({
      client,
      commands: app.commands,
      currentNotebook: () => {
        const current = notebookPath(labShell.currentWidget);
        return current ?? lastNotebook;
      },
      saveNotebook: async (path: string) => {
        // The gate runs the file on disk: save unsaved edits first.
        for (const widget of labShell.widgets('main')) {
          const context = (widget as any).context;
          if (context?.path === path && context.model?.dirty) {
            await context.save();
          }
        }
      }
    });
    panel.model.runOpened.connect((_, runId) => void app.commands.execute(OPEN_RUN_COMMAND, { runId }));
    panel.model.chartOpened.connect((_, chart) => void app.commands.execute(OPEN_CHART_COMMAND, { ...chart }));
    labShell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, 'jupyter-dataops-panel');
      for (const [tracker, command] of [
        [tabs.runs, OPEN_RUN_COMMAND],
        [tabs.charts, OPEN_CHART_COMMAND]
      ] as const) {
        void restorer.restore(tracker, {
          command,
          args: widget => ({ ...widget.content.args }),
          name: widget => widget.id
        });
      }
    }
    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Show the DataOps panel',
      icon: dataopsIcon,
      execute: () => labShell.activateById(panel.id)
    });
    if (palette) {
      palette.addItem({ command: OPEN_COMMAND, category: 'DataOps' });
      palette.addItem({ command: OPEN_RUN_COMMAND, category: 'DataOps' });
    }
  }
};

/** `dataops:open-run` ({runId}; from the palette it asks for the number) and
 * `dataops:open-chart` ({step, metric}): each opens its main-area tab or activates it. */
function addTabCommands(app: JupyterFrontEnd, tabs: DataOpsTabs): void {
  app.commands.addCommand(OPEN_RUN_COMMAND, {
    label: args => (typeof args.runId === 'number' ? `Open DataOps run #${args.runId}` : 'Open a DataOps run\u2026'),
    caption: 'Show a run\u2019s checks, parameters and metrics in a tab',
    icon: dataopsIcon,
    execute: async args => {
      let runId = typeof args.runId === 'number' ? args.runId : null;
      if (runId === null) {
        const answer = await InputDialog.getNumber({ title: 'Open the DataOps run number' });
        if (!answer.button.accept || answer.value === null || !Number.isInteger(answer.value)) {
          return;
        }
        runId = answer.value;
      }
      return tabs.openRun(runId);
    }
  });
  app.commands.addCommand(OPEN_CHART_COMMAND, {
    label: args =>
      typeof args.step === 'string' && typeof args.metric === 'string'
        ? `Open the control chart of ${args.step} \u00b7 ${args.metric}`
        : 'Open a DataOps control chart',
    caption: 'Show a metric\u2019s control chart over the production runs of its step, in a tab',
    icon: dataopsIcon,
    isEnabled: args => typeof args.step === 'string' && typeof args.metric === 'string',
    execute: args => tabs.openChart({ step: String(args.step), metric: String(args.metric) })
  });
}

export default plugin;
