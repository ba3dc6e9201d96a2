/** The interview's icons, as LabIcons: themed through JupyterLab's `jp-icon3` fill class. */

import { LabIcon } from '@jupyterlab/ui-components';

import { SVG } from './svg';

export const micIcon = new LabIcon({ name: 'jupyter-interview:mic', svgstr: SVG.mic });

export const micOffIcon = new LabIcon({ name: 'jupyter-interview:mic-off', svgstr: SVG.micOff });

export const camIcon = new LabIcon({ name: 'jupyter-interview:cam', svgstr: SVG.cam });

export const camOffIcon = new LabIcon({ name: 'jupyter-interview:cam-off', svgstr: SVG.camOff });

export const screenIcon = new LabIcon({ name: 'jupyter-interview:screen', svgstr: SVG.screen });

export const handIcon = new LabIcon({ name: 'jupyter-interview:hand', svgstr: SVG.hand });

export const interviewIcon = new LabIcon({ name: 'jupyter-interview:interview', svgstr: SVG.interview });

export const reactIcon = new LabIcon({ name: 'jupyter-interview:react', svgstr: SVG.react });
