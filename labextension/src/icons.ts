import { LabIcon } from '@jupyterlab/ui-components';

/** A control chart: a centre line, two dashed limits and a series with one point outside. */
const dataopsSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="3" width="20" height="1.4" opacity="0.6"/>
    <rect x="2" y="19.6" width="20" height="1.4" opacity="0.6"/>
    <rect x="2" y="11.3" width="20" height="1" opacity="0.35"/>
  </g>
  <polyline class="jp-icon-selectable" fill="none" stroke="#616161" stroke-width="2"
    stroke-linejoin="round" points="2,13 6,9 10,14 14,10 18,2.2 22,12"/>
  <circle cx="18" cy="2.6" r="2.2" fill="#d32f2f"/>
</svg>`;

export const dataopsIcon = new LabIcon({
  name: 'jupyter-dataops:panel-icon',
  svgstr: dataopsSvg
});
