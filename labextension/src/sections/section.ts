import { Widget } from '@lumino/widgets';

import { Child, h, replaceChildren } from '../dom';
import { DataOpsModel } from '../model';

type Children = (Child | Child[])[];

/**
 * One section of the panel: a Lumino widget over a `<section>` that loads its own data on every
 * refresh of the shared model and redraws only when what it shows changed.
 */
export abstract class Section extends Widget {
  constructor(
    protected readonly model: DataOpsModel,
    testid: string,
    className = ''
  ) {
    super({
      node: h('section', {
        className: `jp-DataOps-section ${className}`.trim(),
        'data-testid': testid
      })
    });
    this._unregister = model.addLoader(() => this.load());
  }

  /** Fetch what the section shows and draw it; shows its own errors, never rejects. */
  abstract load(): Promise<void>;

  /** Replace the section's content unless `key` (what it shows) is the one already drawn. */
  protected draw(key: string, children: () => Children): void {
    if (key !== '' && key === this._key) {
      return;
    }
    this._key = key;
    replaceChildren(this.node, ...children());
  }

  /** Forget what was drawn, so the next `draw` redraws. */
  protected invalidate(): void {
    this._key = null;
  }

  dispose(): void {
    if (!this.isDisposed) {
      this._unregister();
    }
    super.dispose();
  }

  private _key: string | null = null;
  private _unregister: () => void;
}
