/** The extension's REST calls the room model and views make, typed, all through `requestAPI`. */

import { requestAPI } from '../handler';
import { IIceServers } from '../media/ice';
import { IMe } from '../tokens';

export type RoomStateName = 'scheduled' | 'waiting' | 'live' | 'ended';
export type ParticipantStatus = 'invited' | 'waiting' | 'admitted' | 'denied' | 'left';

/** openapi.json `Participant`. */
export interface IParticipantRecord {
  id: string;
  name: string;
  role: 'interviewer' | 'candidate';
  status: ParticipantStatus;
}

/** openapi.json `Room` (the fields the lab extension reads). */
export interface IRoomRecord {
  id: string;
  title: string;
  language: string;
  state: RoomStateName;
  duration_minutes: number;
  settings: Record<string, unknown>;
  started_at: number | null;
  ended_at: number | null;
  notebook_path: string;
  participants?: IParticipantRecord[];
}

/** What the room model needs from the REST API; tests give a fake. */
export interface IRoomAPI {
  getRoom(roomId: string): Promise<IRoomRecord>;
  getMe(roomId: string): Promise<IMe>;
  getIceServers(roomId: string): Promise<IIceServers>;
  admit(roomId: string, participantId: string): Promise<IParticipantRecord>;
  deny(roomId: string, participantId: string): Promise<IParticipantRecord>;
  start(roomId: string): Promise<IRoomRecord>;
  end(roomId: string): Promise<IRoomRecord>;
}

function room(roomId: string, ...rest: string[]): string {
  return ['rooms', roomId, ...rest].map(encodeURIComponent).join('/');
}

export const roomAPI: IRoomAPI = {
  getRoom: roomId => requestAPI<IRoomRecord>(room(roomId)),
  getMe: roomId => requestAPI<IMe>(room(roomId, 'me')),
  getIceServers: roomId =>
    requestAPI<IIceServers>(room(roomId, 'ice-servers'), { cache: 'no-store' }),
  admit: (roomId, participantId) =>
    requestAPI<IParticipantRecord>(room(roomId, 'admit', participantId), { method: 'POST' }),
  deny: (roomId, participantId) =>
    requestAPI<IParticipantRecord>(room(roomId, 'deny', participantId), { method: 'POST' }),
  start: roomId => requestAPI<IRoomRecord>(room(roomId, 'start'), { method: 'POST' }),
  end: roomId => requestAPI<IRoomRecord>(room(roomId, 'end'), { method: 'POST' })
};
