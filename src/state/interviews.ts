/**
 * The interviews list of the owner (every room) or of an interviewer (their own room): create,
 * start, end, and the invite links. A link is shown by the server only when it is issued, so the
 * links of rooms created on this page are kept here; for other rooms a new invite is issued.
 */

import { ISignal, Signal } from '@lumino/signaling';

import type { IRoomCreate, IRoomRecord, IRoomsAPI } from './api';

export type InviteRole = 'interviewer' | 'candidate';

export interface IInterviewsModelOptions {
  api: IRoomsAPI;
  /** An interviewer's page: only this room, and no creating. */
  roomId?: string | null;
}

function message(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

export class InterviewsModel {
  constructor(options: IInterviewsModelOptions) {
    this._api = options.api;
    this.roomId = options.roomId ?? null;
  }

  /** The one room of an interviewer's page, or null for the owner's list. */
  readonly roomId: string | null;

  get canCreate(): boolean {
    return this.roomId === null;
  }

  get rooms(): ReadonlyArray<IRoomRecord> {
    return this._rooms;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string | null {
    return this._error;
  }

  /** Links of a room known on this page. */
  links(roomId: string): Readonly<Partial<Record<InviteRole, string>>> {
    return this._links.get(roomId) ?? {};
  }

  /** The room created last on this page (its links are shown until the next one). */
  get created(): string | null {
    return this._created;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async refresh(): Promise<void> {
    this._loading = true;
    this._changed.emit();
    try {
      this._rooms =
        this.roomId === null
          ? await this._api.listRooms()
          : [await this._api.getRoom(this.roomId)];
      this._error = null;
    } catch (reason) {
      this._error = message(reason);
    } finally {
      this._loading = false;
      this._changed.emit();
    }
  }

  async create(body: IRoomCreate): Promise<IRoomRecord | null> {
    try {
      const room = await this._api.createRoom(body);
      this._links.set(room.id, { ...room.invites });
      this._created = room.id;
      this._rooms = [...this._rooms.filter(r => r.id !== room.id), room];
      this._error = null;
      this._changed.emit();
      return room;
    } catch (reason) {
      this._error = message(reason);
      this._changed.emit();
      return null;
    }
  }

  async start(roomId: string): Promise<void> {
    await this._transition(roomId, () => this._api.start(roomId));
  }

  async end(roomId: string): Promise<void> {
    await this._transition(roomId, () => this._api.end(roomId));
  }

  /**
   * The invite link for `role`: the one issued on this page, or a new invite (a new participant
   * of that role: the server never shows an issued link again).
   */
  async link(roomId: string, role: InviteRole): Promise<string | null> {
    const known = this._links.get(roomId)?.[role];
    if (known !== undefined) {
      return known;
    }
    try {
      const invite = await this._api.issueInvite(roomId, role);
      this._links.set(roomId, { ...this._links.get(roomId), [role]: invite.url });
      this._error = null;
      this._changed.emit();
      return invite.url;
    } catch (reason) {
      this._error = message(reason);
      this._changed.emit();
      return null;
    }
  }

  dispose(): void {
    Signal.clearData(this);
  }

  private async _transition(roomId: string, call: () => Promise<IRoomRecord>): Promise<void> {
    try {
      const room = await call();
      this._rooms = this._rooms.map(r => (r.id === roomId ? { ...r, ...room } : r));
      this._error = null;
    } catch (reason) {
      this._error = message(reason);
    }
    this._changed.emit();
  }

  private readonly _api: IRoomsAPI;
  private _rooms: IRoomRecord[] = [];
  private readonly _links = new Map<string, Partial<Record<InviteRole, string>>>();
  private _created: string | null = null;
  private _loading = false;
  private _error: string | null = null;
  private readonly _changed = new Signal<this, void>(this);
}
