import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import type { InterviewSession } from './state/session';

/** A participant's role in one room, as the server assigns it. */
export type Role = 'owner' | 'interviewer' | 'candidate';

/** The answer of `GET rooms/<id>/me`: who this browser is in the room. */
export interface IMe {
  role: Role;
  participant_id?: string | null;
  name?: string;
  /** `waiting`, `admitted`, `denied`, ... (null for the owner). */
  status?: string | null;
  room_state?: string;
  /** What the caller may do now: `files:read`, `files:write`, `kernels:execute`, `notes:own`, ... */
  permissions?: string[];
}

/**
 * The room this JupyterLab page belongs to, if any. Plugins read it and
 * listen to `changed`; only the core plugin writes it.
 */
export interface IRoomModel {
  /** The room id, or null when the page is not an interview room. */
  readonly roomId: string | null;
  /** Who we are in the room; null until the server has answered. */
  readonly me: IMe | null;
  /** Why loading `me` failed, if it did. */
  readonly error: Error | null;
  /** Emitted whenever `me` or `error` changes. */
  readonly changed: ISignal<IRoomModel, void>;
}

export const IRoomModel = new Token<IRoomModel>(
  'jupyter-interview:IRoomModel',
  'The interview room of this page: its id and the role of the user in it.'
);

/**
 * The interview page's controller (room socket, call, local media, REST), for the room's views.
 * `session` is null on a page that is not an interview room.
 */
export interface IInterviewSession {
  readonly session: InterviewSession | null;
  /** The room's notebook, a server path (`interviews/<room>/interview.ipynb`). */
  readonly notebookPath: string | null;
  /** Tells the lobby what the lab shows now, so that it steps aside. */
  readonly lobby: ILobbyHandOff;
}

/** The lobby covers the page until the lab shows its own screens, and the call until the panel does. */
export interface ILobbyHandOff {
  /** The lab has started and restored its layout (the room's notebook is opening): Join may go ahead. */
  labReady(): void;
  /** The lab's full-page screens (waiting room, end...) are on the page. */
  screensShown(): void;
  /** The interview panel shows the call. */
  panelShown(): void;
}

export const IInterviewSession = new Token<IInterviewSession>(
  'jupyter-interview:IInterviewSession',
  "The interview page's session: room socket, call, local media and REST calls."
);
