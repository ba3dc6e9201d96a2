/**
 * The session plugin: on an interview page, the controller joining the room socket and the call.
 * On a participant's page the early script (src/lobby.ts) made it already, with the lobby: this
 * takes them over. Elsewhere (a room page opened by the owner) it makes both.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { ITranslator } from '@jupyterlab/translation';

import { PluginIDs } from '../ids';
import { accessOfLevel } from '../state/phase';
import { RoomModel } from '../state/room';
import { IInterviewSession, IRoomModel } from '../tokens';
import { TRANSLATION_DOMAIN } from '../widgets/common';
import { findEarlyRoom, startRoom } from '../widgets/lobby';

export const sessionPlugin: JupyterFrontEndPlugin<IInterviewSession> = {
  id: PluginIDs.session,
  description: "The interview page's controller: room socket, call, local media and REST calls.",
  autoStart: true,
  requires: [IRoomModel],
  optional: [ITranslator],
  provides: IInterviewSession,
  activate: (app: JupyterFrontEnd, model: IRoomModel, translator: ITranslator | null): IInterviewSession => {
    if (model.roomId === null) {
      return { session: null, notebookPath: null, lobby: { labReady: () => undefined, screensShown: () => undefined, panelShown: () => undefined } };
    }
    const treePath = PageConfig.getOption('treePath');
    const access = accessOfLevel(PageConfig.getOption('interviewAccess'));
    if (PageConfig.getOption('interviewRole') === 'candidate' && access === 'none') {
      // The lab would open the page's tree path at start-up, before a waiting candidate may read
      // it (a "cannot open" dialog): the room plugin opens the notebook once the server allows.
      PageConfig.setOption('treePath', '');
    }
    // On a participant's page the early script made them already; elsewhere (the owner's) make them.
    const early = findEarlyRoom(model.roomId);
    const { session, view: lobby, handOff } =
      early !== null && early.room === model
        ? early
        : startRoom(model as RoomModel, model.roomId, app.serviceManager.serverSettings);
    if (translator !== null) {
      lobby.setTrans(translator.load(TRANSLATION_DOMAIN));
    }
    window.addEventListener('pagehide', () => {
      void session.flushNotes();
    });
    const notebookPath =
      treePath.endsWith('.ipynb') && treePath.startsWith(`interviews/${model.roomId}/`)
        ? treePath
        : `interviews/${model.roomId}/interview.ipynb`;
    return { session, notebookPath, lobby: handOff };
  }
};
