/** The core plugin: finds the page's room and who the user is in it. */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { PageConfig } from '@jupyterlab/coreutils';

import { PluginIDs } from '../ids';
import { findRoomId } from '../room';
import { roomAPI } from '../state/api';
import { RoomModel } from '../state/room';
import { IRoomModel, Role } from '../tokens';
import { findEarlyRoom } from '../widgets/lobby';

/** The class on document.body while the page is an interview room. */
export const INTERVIEW_MODE_CLASS = 'jp-Interview-mode';

/** The attribute on document.body naming the user's role in the room. */
export const ROLE_ATTRIBUTE = 'data-interview-role';

function isRole(value: string): value is Role {
  return value === 'owner' || value === 'interviewer' || value === 'candidate';
}

async function loadMe(model: RoomModel, roomId: string): Promise<void> {
  try {
    const me = await roomAPI.getMe(roomId);
    model.setMe(me);
    document.body.setAttribute(ROLE_ATTRIBUTE, me.role);
    console.info(`jupyter-interview: room ${roomId}, role ${me.role}`);
  } catch (reason) {
    const error = reason instanceof Error ? reason : new Error(String(reason));
    model.setError(error);
    console.warn(`jupyter-interview: room ${roomId}: ${error.message}`);
  }
}

export const corePlugin: JupyterFrontEndPlugin<IRoomModel> = {
  id: PluginIDs.core,
  description: 'Finds the interview room of this page and the role of the user in it.',
  autoStart: true,
  provides: IRoomModel,
  activate: (_app: JupyterFrontEnd): IRoomModel => {
    const roomId = findRoomId();
    // The page's early script may run the room already (the lobby, a Join pressed before the lab).
    const model = findEarlyRoom(roomId)?.room ?? new RoomModel(roomId, { api: roomAPI });
    if (roomId !== null) {
      document.body.classList.add(INTERVIEW_MODE_CLASS);
      // The server names an invite identity's role in the page config: known before any request.
      const role = PageConfig.getOption('interviewRole');
      if (isRole(role)) {
        model.setMe({ role });
        document.body.setAttribute(ROLE_ATTRIBUTE, role);
      }
      // Not awaited: activation must not wait on the network.
      void loadMe(model, roomId);
    }
    return model;
  }
};
