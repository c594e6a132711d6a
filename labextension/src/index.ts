import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { DataOpsClient } from './client';
import { ExecutedNotebookDrive } from './drive';
import { dataopsIcon } from './icons';
import { DataOpsPanel } from './panel';

const PLUGIN_ID = 'jupyter-dataops:panel';
const OPEN_COMMAND = 'dataops:open-panel';

/** The path of a document widget (notebook) if `widget` is one. */
function notebookPath(widget: Widget | null): string | null {
  const context = (widget as any)?.context;
  const path: unknown = context?.path;
  return typeof path === 'string' && path.endsWith('.ipynb') ? path : null;
}

/** The DataOps sidebar panel: pipelines, runs, checks and control charts. */
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
    const panel = new DataOpsPanel({
      client,
      commands: app.commands,
      rendermime,
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
    labShell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, 'jupyter-dataops-panel');
    }
    app.commands.addCommand(OPEN_COMMAND, {
      label: 'Show the DataOps panel',
      icon: dataopsIcon,
      execute: () => labShell.activateById(panel.id)
    });
    if (palette) {
      palette.addItem({ command: OPEN_COMMAND, category: 'DataOps' });
    }
  }
};

export default plugin;
