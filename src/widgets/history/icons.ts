/** Icons of the History and Replay views, themed through JupyterLab's `jp-icon3` fill class. */

import { LabIcon } from '@jupyterlab/ui-components';

function svg(body: string): string {
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
    `<g class="jp-icon3" fill="#616161">${body}</g></svg>`
  );
}

export const historyIcon = new LabIcon({
  name: 'jupyter-interview:history',
  svgstr: svg(
    '<path d="M13 3a9 9 0 0 0-9 9H1l3.9 3.9.1.1L9 12H6a7 7 0 1 1 2.05 4.95l-1.42 1.42A9 9 0 1 0 13 3zm-1 5v5l4.25 2.52.77-1.28-3.52-2.09V8H12z"/>'
  )
});

export const replayIcon = new LabIcon({
  name: 'jupyter-interview:replay',
  svgstr: svg(
    '<path d="M12 5V1L7 6l5 5V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8zm-1.5 5.5v5l4-2.5-4-2.5z"/>'
  )
});
