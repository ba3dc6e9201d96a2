import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

/** A participant's role in one room, as the server assigns it. */
export type Role = 'owner' | 'interviewer' | 'candidate';

/** The answer of `GET rooms/<id>/me`: who this browser is in the room. */
export interface IMe {
  role: Role;
  participant_id?: string;
  name?: string;
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
