/**
 * No launcher in interview mode: the room's notebook fills the main area. JupyterLab's file browser
 * still asks for one when it restores onto an empty main area (a candidate in the waiting room);
 * this command answers it, where an unregistered command would be an error on the page.
 */

import type { JupyterFrontEndPlugin } from '@jupyterlab/application';

export const noLauncherPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-interview:no-launcher',
  description: 'Answers launcher:create with nothing: interview mode has no launcher.',
  autoStart: true,
  activate: app => {
    app.commands.addCommand('launcher:create', { label: '', execute: () => undefined });
  }
};
