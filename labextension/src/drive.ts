import { Contents, ServerConnection } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { ISignal, Signal } from '@lumino/signaling';

import { DataOpsClient } from './client';

/** Name of the drive: executed notebooks open as `DataOpsRuns:<run id>/<name>.ipynb`. */
export const RUNS_DRIVE = 'DataOpsRuns';

/** The Lab path that opens the executed notebook of a run through the read-only drive. */
export function executedNotebookPath(runId: number, fileName: string): string {
  return `${RUNS_DRIVE}:${runId}/${fileName}`;
}

function readOnly(what: string): Promise<never> {
  return Promise.reject(
    new Error(
      `Executed notebooks are the record of a run and cannot be ${what}. ` +
        'Use File > Save As… to keep an editable copy.'
    )
  );
}

/**
 * A read-only Lab drive over `GET /dataops/api/runs/{id}/notebook`.
 *
 * Executed notebooks live in the project's hidden `.dataops/runs/` folder (which Jupyter's
 * contents API does not serve) or outside the server root; this drive lets Lab open them.
 */
export class ExecutedNotebookDrive implements Contents.IDrive {
  constructor(client?: DataOpsClient) {
    this._client = client ?? new DataOpsClient();
  }

  readonly name = RUNS_DRIVE;
  readonly serverSettings = ServerConnection.makeSettings();

  get fileChanged(): ISignal<this, Contents.IChangedArgs> {
    return this._fileChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    this._isDisposed = true;
    Signal.clearData(this);
  }

  async get(localPath: string, options?: Contents.IFetchOptions): Promise<Contents.IModel> {
    const match = /^(\d+)\/([^/]+\.ipynb)$/.exec(localPath);
    if (!match) {
      if (localPath === '' || /^\d+$/.test(localPath)) {
        // Lab may list a notebook's folder; the drive has no browsable folders.
        return {
          name: localPath,
          path: localPath,
          type: 'directory',
          writable: false,
          created: new Date(0).toISOString(),
          last_modified: new Date(0).toISOString(),
          mimetype: '',
          content: [],
          format: 'json'
        };
      }
      throw new Error(`${localPath} is not an executed notebook of a DataOps run`);
    }
    const model = await this._client.runNotebook(Number(match[1]), options?.content !== false);
    return {
      ...model,
      mimetype: model.mimetype ?? '',
      format: model.format as Contents.FileFormat
    };
  }

  async getDownloadUrl(localPath: string): Promise<string> {
    return readOnly('downloaded from here');
  }

  newUntitled(): Promise<Contents.IModel> {
    return readOnly('created');
  }

  delete(): Promise<void> {
    return readOnly('deleted');
  }

  rename(): Promise<Contents.IModel> {
    return readOnly('renamed');
  }

  save(): Promise<Contents.IModel> {
    return readOnly('saved');
  }

  copy(): Promise<Contents.IModel> {
    return readOnly('copied from here');
  }

  async createCheckpoint(): Promise<Contents.ICheckpointModel> {
    return readOnly('checkpointed');
  }

  async listCheckpoints(): Promise<Contents.ICheckpointModel[]> {
    return [];
  }

  restoreCheckpoint(): Promise<void> {
    return readOnly('restored');
  }

  deleteCheckpoint(): Promise<void> {
    return Promise.resolve();
  }

  private _client: DataOpsClient;
  private _isDisposed = false;
  private _fileChanged = new Signal<this, Contents.IChangedArgs>(this);
}

/**
 * Open a run's executed notebook (read-only) in Lab.
 *
 * On connecting, the kernel writes its `language_info`/`kernelspec` into the notebook metadata,
 * which would mark the record as unsaved and ask "Save your work?" on close. Those kernel updates
 * are not edits: the notebook stays clean until the user changes a cell.
 */
export async function openExecutedNotebook(
  commands: CommandRegistry,
  runId: number,
  fileName: string
): Promise<void> {
  const widget: any = await commands.execute('docmanager:open', {
    path: executedNotebookPath(runId, fileName)
  });
  const context = widget?.context;
  if (!context) {
    return;
  }
  await context.ready;
  const model = context.model;
  let edited = false;
  model.contentChanged?.connect(() => {
    edited = true;
  });
  model.metadataChanged?.connect((_: unknown, change: { key: string }) => {
    if (!edited && (change.key === 'language_info' || change.key === 'kernelspec')) {
      window.setTimeout(() => {
        if (!edited) {
          model.dirty = false;
        }
      }, 0);
    }
  });
}
