import { Message } from '@lumino/messaging';
import { Panel } from '@lumino/widgets';

import { h } from './dom';
import { DataOpsModel } from './model';

/**
 * A Lumino panel over its own `DataOpsModel` that refreshes when shown and polls while visible:
 * the sidebar and each main-area tab. Polling stops when it is hidden, detached or disposed
 * (a closed tab leaves no timer behind); disposing it disposes its model.
 */
export class PollingPanel extends Panel {
  constructor(readonly model: DataOpsModel) {
    super();
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
}

/** The line where a model's notices (`model.say`) are shown. */
export function noticeLine(model: DataOpsModel): HTMLElement {
  const line = h('div', {
    className: 'jp-DataOps-notice',
    'data-testid': 'dataops-notice',
    role: 'status'
  });
  model.noticeChanged.connect((_, notice) => {
    line.className = `jp-DataOps-notice jp-DataOps-notice-${notice.kind}`;
    line.textContent = notice.text;
  });
  return line;
}
