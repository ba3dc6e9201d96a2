/**
 * The early bundle's entry: the first script of a participant's lab page (the server puts it before
 * JupyterLab's own). It shows the lobby (the device check, with the camera on) at once and makes the
 * room's model and session here, with the page's ICE servers; the lab's plugins take the lobby, the
 * room and the session over (`findEarlyRoom`). A Join pressed while the lab is loading is kept and
 * carried out once the lab has restored its layout (see `driveLobby`).
 */

import '../style/screens.css';

import { PageConfig } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { roomAPI } from './state/api';
import { RoomModel } from './state/room';
import { publishEarlyRoom, startRoom } from './widgets/lobby';

function start(): void {
  const roomId = PageConfig.getOption('interviewRoom');
  const role = PageConfig.getOption('interviewRole');
  if (!roomId || (role !== 'candidate' && role !== 'interviewer')) {
    return;
  }
  if (role === 'candidate' && PageConfig.getOption('interviewState') === 'ended') {
    return; // nothing to join: the lab shows the end screen
  }
  const room = new RoomModel(roomId, { api: roomAPI });
  room.setMe({ role });
  publishEarlyRoom(startRoom(room, roomId, ServerConnection.makeSettings()));
}

if (document.body !== null) {
  start();
} else {
  document.addEventListener('DOMContentLoaded', start, { once: true });
}
