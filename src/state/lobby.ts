/**
 * The lobby: what a participant decides before entering the room (camera and microphone, and the
 * candidate's acknowledgement of what the interview records). It runs from the page's first script,
 * before JupyterLab has loaded, so that the device check shows at once and the call can start the
 * moment the lab's session exists; the session then takes over its local media. No DOM, no
 * JupyterLab import: the early bundle carries it alone.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { LocalMedia } from '../media/local';

/** Someone already in the call, as the lobby shows them while the lab finishes loading. */
export interface ILobbyPeer {
  readonly id: string;
  readonly name: string;
  readonly stream: MediaStream;
}

export interface ILobbyOptions {
  /** The participant's role as the server named it in the page config, if known yet. */
  role: string | null;
  /** The interview's title, if known yet. */
  title: string | null;
  /** The local media to use; a new one by default. */
  media?: LocalMedia;
}

export class LobbyModel {
  constructor(options: ILobbyOptions) {
    this._role = options.role;
    this._title = options.title;
    this.media = options.media ?? new LocalMedia();
  }

  readonly media: LocalMedia;

  get role(): string | null {
    return this._role;
  }

  get title(): string | null {
    return this._title;
  }

  /** A candidate must acknowledge what the interview records before joining. */
  get needsAcknowledgement(): boolean {
    return this._role === 'candidate';
  }

  get acknowledged(): boolean {
    return this._acknowledged;
  }

  get canJoin(): boolean {
    return !this._joined && (!this.needsAcknowledgement || this._acknowledged);
  }

  /** Whether the participant pressed Join (perhaps before the lab had loaded). */
  get joined(): boolean {
    return this._joined;
  }

  /** Who the call already shows, once joined (until the interview panel takes the call over). */
  get peers(): ReadonlyArray<ILobbyPeer> {
    return this._peers;
  }

  /** Emitted when anything the view shows changes (not the media: see `media.changed`). */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted once, when the participant presses Join. */
  get joinRequested(): ISignal<this, void> {
    return this._joinRequested;
  }

  setRole(role: string | null): void {
    if (role !== this._role) {
      this._role = role;
      this._changed.emit();
    }
  }

  setTitle(title: string | null): void {
    if (title !== this._title) {
      this._title = title;
      this._changed.emit();
    }
  }

  setPeers(peers: ReadonlyArray<ILobbyPeer>): void {
    const same =
      peers.length === this._peers.length &&
      peers.every((p, i) => p.id === this._peers[i].id && p.name === this._peers[i].name && p.stream === this._peers[i].stream);
    if (!same) {
      this._peers = [...peers];
      this._changed.emit();
    }
  }

  setAcknowledged(value: boolean): void {
    if (value !== this._acknowledged && !this._joined) {
      this._acknowledged = value;
      this._changed.emit();
    }
  }

  /** Turn the camera and microphone on for the preview (once). */
  startMedia(): Promise<void> {
    if (this._mediaStarted === null) {
      this._mediaStarted = this.media.start();
    }
    return this._mediaStarted;
  }

  /** Enter the room; refused (false) until a candidate has acknowledged the recording. */
  join(): boolean {
    if (!this.canJoin) {
      return false;
    }
    this._joined = true;
    this._changed.emit();
    this._joinRequested.emit();
    return true;
  }

  private _role: string | null;
  private _title: string | null;
  private _acknowledged = false;
  private _peers: ILobbyPeer[] = [];
  private _joined = false;
  private _mediaStarted: Promise<void> | null = null;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _joinRequested = new Signal<this, void>(this);
}
