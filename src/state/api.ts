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

/** `GET`/`PUT rooms/{id}/notes`: the caller's own notes (openapi.json `Notes`). */
export interface INotes {
  text: string;
  etag: string;
  updated_at: number | null;
}

export interface INotesAPI {
  getNotes(roomId: string): Promise<INotes>;
  /** Rejects with an `APIError` coded `stale_etag` or `etag_required` when `etag` is not current. */
  putNotes(roomId: string, text: string, etag: string): Promise<INotes>;
}

/** The owner reads every author's notes; its own are those of author `owner`. */
interface INotesList {
  notes: Array<INotes & { author: { id: string; name: string } }>;
}

export const notesAPI: INotesAPI = {
  getNotes: async roomId => {
    const body = await requestAPI<INotes | INotesList>(room(roomId, 'notes'), { cache: 'no-store' });
    if ('notes' in body) {
      const own = body.notes.find(n => n.author.id === 'owner');
      return own === undefined
        ? { text: '', etag: '"new"', updated_at: null }
        : { text: own.text, etag: own.etag, updated_at: own.updated_at };
    }
    return body;
  },
  putNotes: (roomId, text, etag) =>
    requestAPI<INotes>(room(roomId, 'notes'), {
      method: 'PUT',
      headers: { 'If-Match': etag },
      body: JSON.stringify({ text })
    })
};

/** `POST rooms` (openapi.json `RoomCreate`): settings flat beside the other fields. */
export interface IRoomCreate {
  title: string;
  language: string;
  duration_minutes: number;
  waiting_room?: boolean;
  allow_candidate_screen_share?: boolean;
  problem?: string;
}

/** `POST rooms` answers the room with its two invite links, shown this once. */
export interface IRoomCreated extends IRoomRecord {
  invites: { interviewer: string; candidate: string };
}

/** `POST rooms/{id}/invites` (openapi.json `InviteCreated`). */
export interface IInviteCreated {
  jti: string;
  participant_id: string;
  role: 'interviewer' | 'candidate';
  name: string;
  expires_at: number;
  url: string;
}

/** What the interviews panel and the room controls need beyond `IRoomAPI`. */
export interface IRoomsAPI {
  listRooms(): Promise<IRoomRecord[]>;
  getRoom(roomId: string): Promise<IRoomRecord>;
  createRoom(body: IRoomCreate): Promise<IRoomCreated>;
  patchRoom(roomId: string, patch: Record<string, unknown>): Promise<IRoomRecord>;
  issueInvite(roomId: string, role: 'interviewer' | 'candidate'): Promise<IInviteCreated>;
  start(roomId: string): Promise<IRoomRecord>;
  end(roomId: string): Promise<IRoomRecord>;
}

export const roomsAPI: IRoomsAPI = {
  listRooms: async () =>
    (await requestAPI<{ rooms: IRoomRecord[] }>('rooms', { cache: 'no-store' })).rooms,
  getRoom: roomId => requestAPI<IRoomRecord>(room(roomId), { cache: 'no-store' }),
  createRoom: body =>
    requestAPI<IRoomCreated>('rooms', { method: 'POST', body: JSON.stringify(body) }),
  patchRoom: (roomId, patch) =>
    requestAPI<IRoomRecord>(room(roomId), { method: 'PATCH', body: JSON.stringify(patch) }),
  issueInvite: (roomId, role) =>
    requestAPI<IInviteCreated>(room(roomId, 'invites'), {
      method: 'POST',
      body: JSON.stringify({ role })
    }),
  start: roomId => requestAPI<IRoomRecord>(room(roomId, 'start'), { method: 'POST' }),
  end: roomId => requestAPI<IRoomRecord>(room(roomId, 'end'), { method: 'POST' })
};

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
