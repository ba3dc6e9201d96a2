/**
 * The session plugin: on an interview page, the controller joining the room socket and the call. It
 * takes over the lobby (the device check the page's early script showed, or one of its own) and
 * shows it while the session's screen is the device check.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';
import { ITranslator } from '@jupyterlab/translation';

import { PluginIDs } from '../ids';
import { IIceServers } from '../media/ice';
import { LobbyModel } from '../state/lobby';
import { accessOfLevel } from '../state/phase';
import { RoomModel } from '../state/room';
import { InterviewSession } from '../state/session';
import { IInterviewSession, IRoomModel } from '../tokens';
import { TRANSLATION_DOMAIN } from '../widgets/common';
import { LobbyView, takeLobby } from '../widgets/lobby';

/** The ICE servers the server put in the page config (a participant's lobby page), or null. */
function pageIce(): IIceServers | null {
  const raw = PageConfig.getOption('interviewIce');
  if (!raw) {
    return null;
  }
  try {
    const ice = JSON.parse(raw) as IIceServers;
    return Array.isArray(ice.ice_servers) ? ice : null;
  } catch {
    return null;
  }
}

/** Keep the lobby in step with the session: shown on the device check, its Join the session's. */
function driveLobby(lobby: LobbyView, session: InterviewSession): void {
  const model = lobby.model;
  model.joinRequested.connect(() => session.join());
  const sync = (): void => {
    model.setRole(session.room.myRole ?? model.role);
    model.setTitle(session.record?.title ?? model.title);
    if (session.screen === 'device-check') {
      session.prepare();
      lobby.show();
    } else {
      lobby.hide();
    }
  };
  session.screenChanged.connect(sync);
  session.recordChanged.connect(sync);
  session.room.changed.connect(sync);
  if (model.joined) {
    session.join(); // pressed before the lab had loaded
  }
  sync();
}

export const sessionPlugin: JupyterFrontEndPlugin<IInterviewSession> = {
  id: PluginIDs.session,
  description: "The interview page's controller: room socket, call, local media and REST calls.",
  autoStart: true,
  requires: [IRoomModel],
  optional: [ITranslator],
  provides: IInterviewSession,
  activate: (app: JupyterFrontEnd, model: IRoomModel, translator: ITranslator | null): IInterviewSession => {
    if (!(model instanceof RoomModel) || model.roomId === null) {
      // Not a room page: an early lobby has nothing to join.
      takeLobby()?.dispose();
      return { session: null, notebookPath: null };
    }
    const treePath = PageConfig.getOption('treePath');
    const access = accessOfLevel(PageConfig.getOption('interviewAccess'));
    if (PageConfig.getOption('interviewRole') === 'candidate' && access === 'none') {
      // The lab would open the page's tree path at start-up, before a waiting candidate may read
      // it (a "cannot open" dialog): the room plugin opens the notebook once the server allows.
      PageConfig.setOption('treePath', '');
    }
    const lobby =
      takeLobby() ??
      new LobbyView(
        new LobbyModel({
          role: model.myRole,
          title: PageConfig.getOption('interviewTitle') || null
        })
      );
    if (translator !== null) {
      lobby.setTrans(translator.load(TRANSLATION_DOMAIN));
    }
    const session = new InterviewSession({
      room: model,
      roomId: model.roomId,
      server: app.serviceManager.serverSettings,
      access,
      media: lobby.model.media,
      ice: pageIce()
    });
    driveLobby(lobby, session);
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
