/** The session plugin: on an interview page, the controller joining the room socket and the call. */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';

import { PluginIDs } from '../ids';
import { accessOfLevel } from '../state/phase';
import { RoomModel } from '../state/room';
import { InterviewSession } from '../state/session';
import { IInterviewSession, IRoomModel } from '../tokens';

export const sessionPlugin: JupyterFrontEndPlugin<IInterviewSession> = {
  id: PluginIDs.session,
  description: "The interview page's controller: room socket, call, local media and REST calls.",
  autoStart: true,
  requires: [IRoomModel],
  provides: IInterviewSession,
  activate: (app: JupyterFrontEnd, model: IRoomModel): IInterviewSession => {
    if (!(model instanceof RoomModel) || model.roomId === null) {
      return { session: null, notebookPath: null };
    }
    const treePath = PageConfig.getOption('treePath');
    const access = accessOfLevel(PageConfig.getOption('interviewAccess'));
    if (PageConfig.getOption('interviewRole') === 'candidate' && access === 'none') {
      // The lab would open the page's tree path at start-up, before a waiting candidate may read
      // it (a "cannot open" dialog): the room plugin opens the notebook once the server allows.
      PageConfig.setOption('treePath', '');
    }
    const session = new InterviewSession({
      room: model,
      roomId: model.roomId,
      server: app.serviceManager.serverSettings,
      access
    });
    window.addEventListener('pagehide', () => {
      void session.flushNotes();
    });
    const notebookPath =
      treePath.endsWith('.ipynb') && treePath.startsWith(`interviews/${model.roomId}/`)
        ? treePath
        : `interviews/${model.roomId}/interview.ipynb`;
    return { session, notebookPath };
  }
};
