import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { requestAPI } from './handler';
import { PluginIDs } from './ids';
import { findRoomId } from './room';
import { RoomModel } from './state/room';
import { IMe, IRoomModel } from './tokens';

/** The class on document.body while the page is an interview room. */
export const INTERVIEW_MODE_CLASS = 'jp-Interview-mode';

async function loadMe(model: RoomModel, roomId: string): Promise<void> {
  try {
    const me = await requestAPI<IMe>(`rooms/${encodeURIComponent(roomId)}/me`);
    model.setMe(me);
    console.info(`jupyter-interview: room ${roomId}, role ${me.role}`);
  } catch (reason) {
    const error = reason instanceof Error ? reason : new Error(String(reason));
    model.setError(error);
    console.warn(`jupyter-interview: room ${roomId}: ${error.message}`);
  }
}

/** Finds the page's room and who the user is in it. */
export const corePlugin: JupyterFrontEndPlugin<IRoomModel> = {
  id: PluginIDs.core,
  description:
    'Finds the interview room of this page and the role of the user in it.',
  autoStart: true,
  provides: IRoomModel,
  activate: (_app: JupyterFrontEnd): IRoomModel => {
    const roomId = findRoomId();
    const model = new RoomModel(roomId);
    if (roomId !== null) {
      document.body.classList.add(INTERVIEW_MODE_CLASS);
      // Not awaited: activation must not wait on the network.
      void loadMe(model, roomId);
    }
    return model;
  }
};
