/**
 * Replaces JupyterLab's "Server Connection Error" dialog on participants' pages: the interview's
 * own "reconnecting…" banner tells the user, and a modal dialog over the call would block the
 * chat and the controls while the connection comes back by itself.
 */

import { IConnectionLost, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';

import { PluginIDs } from '../ids';

export const connectionLostPlugin: JupyterFrontEndPlugin<IConnectionLost> = {
  id: PluginIDs.connectionLost,
  description: 'A lost server connection shows as the interview banner, not as a modal dialog.',
  autoStart: true,
  provides: IConnectionLost,
  activate: (): IConnectionLost => {
    return async (_manager, error) => {
      console.info('jupyter-interview: the server connection was lost; retrying', error.message);
    };
  }
};

/**
 * Only on an invite identity's page: there the server disables the hub extension, JupyterLab's
 * other provider of this service (two providers of one service cannot both register).
 */
export function connectionPlugins(): JupyterFrontEndPlugin<unknown>[] {
  return PageConfig.getOption('interviewRole') ? [connectionLostPlugin] : [];
}
