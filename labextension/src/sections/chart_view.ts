import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { withNumberLocale } from '../locale';
import { IMetricChart } from '../types';
import { fitSpec } from './fit';

/** Room Lab's renderer and vega-embed's action menu ("…", 38 px) take beside the chart. */
export const EMBED_INSET = 48;

/**
 * One metric's control chart drawn by Lab's own Vega-Lite renderer (bundled with Lab, so
 * offline) into a holder element: fitted to a width, its run times and numbers in the
 * browser's locale. The chart section (a main-area tab) keeps one.
 */
export class ChartView {
  constructor(private readonly _rendermime: IRenderMimeRegistry) {}

  /** Replace what was drawn by `chart`, `width` pixels wide, inside `holder`. Resolves false
   * when a newer `draw` or a `clear` took over meanwhile. */
  async draw(holder: HTMLElement, chart: IMetricChart, width: number): Promise<boolean> {
    this.clear();
    const renderer = this._rendermime.createRenderer(chart.mimetype);
    this._widget = renderer;
    Widget.attach(renderer, holder);
    const spec = withNumberLocale(fitSpec(chart.spec, width));
    await renderer.renderModel(new MimeModel({ data: { [chart.mimetype]: spec as any }, trusted: true }));
    return renderer === this._widget;
  }

  /** Detach and dispose the renderer while its node is still in the document. */
  clear(): void {
    const widget = this._widget;
    this._widget = null;
    if (widget && !widget.isDisposed) {
      if (widget.isAttached && widget.node.isConnected) {
        Widget.detach(widget);
      }
      widget.dispose();
    }
  }

  private _widget: Widget | null = null;
}
