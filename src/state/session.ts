/**
 * The controller of one interview page: it joins the room (ICE servers, the room socket, the call
 * mesh), keeps the room model, the local media and the call in step, measures each call leg's
 * health, and makes the REST calls the views ask for. Views read it and call its methods; they
 * never touch the network themselves.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IIceServers, refreshAt, rtcConfiguration } from '../media/ice';
import { LocalMedia } from '../media/local';
import { Mesh } from '../media/mesh';
import { PeerConnectionLike, PeerFactory } from '../media/peer';
import {
  ILinkHealth,
  IStatsReportLike,
  IStatsSample,
  UNKNOWN_HEALTH,
  assessHealth,
  sampleFromReport
} from '../media/quality';
import { IServerLocation, SignalingClient, roomSocketUrl } from '../signaling/client';
import { Cancel, Scheduler, realScheduler } from '../signaling/runtime';
import { IMe } from '../tokens';
import { INotesAPI, IRoomAPI, IRoomRecord, IRoomsAPI, notesAPI, roomAPI, roomsAPI } from './api';
import { NotesModel } from './notes';
import { FileAccess, Screen, fileAccess, screenFor } from './phase';
import { RoomModel } from './room';

/** How often each call leg's stats are read, ms. */
const STATS_EVERY_MS = 2000;

export interface IInterviewSessionOptions {
  room: RoomModel;
  roomId: string;
  server: IServerLocation;
  api?: IRoomAPI;
  rooms?: IRoomsAPI;
  notes?: INotesAPI;
  scheduler?: Scheduler;
  /** What the page was told at load (page config), until `me` says otherwise. */
  access?: FileAccess;
  /** The local media to send, when the lobby started it before the lab; a new one by default. */
  media?: LocalMedia;
  /** The ICE servers the page came with (page config), so that Join need not ask for them. */
  ice?: IIceServers | null;
}

type StatsPeer = PeerConnectionLike<MediaStreamTrack, MediaStream> & {
  getStats?: () => Promise<IStatsReportLike>;
  setConfiguration?: (configuration: RTCConfiguration) => void;
};

export class InterviewSession {
  constructor(options: IInterviewSessionOptions) {
    this.room = options.room;
    this.roomId = options.roomId;
    this._server = options.server;
    this._api = options.api ?? roomAPI;
    this._rooms = options.rooms ?? roomsAPI;
    this._notesAPI = options.notes ?? notesAPI;
    this._scheduler = options.scheduler ?? realScheduler;
    this.media = options.media ?? new LocalMedia();
    this.media.changed.connect(this._onMediaChanged, this);
    this.media.screenEnded.connect(this._onScreenEnded, this);
    this.room.changed.connect(this._onRoomChanged, this);
    this.room.interviewStateChanged.connect(this._onRoomChanged, this);
    this.room.connectionChanged.connect(this._onRoomChanged, this);
    this._me = this.room.me;
    this._access = options.access ?? fileAccess(this._me?.permissions);
    if (options.ice) {
      this._icePending = Promise.resolve(options.ice);
      this._scheduleIceRefresh(options.ice);
    }
  }

  readonly room: RoomModel;
  readonly roomId: string;
  readonly media: LocalMedia;

  /** Which screen to show (device check, waiting room, the room, the end screen...). */
  get screen(): Screen {
    return screenFor({
      joined: this._joined,
      welcomed: this.room.myId !== null,
      role: this.room.myRole,
      status: this.room.myStatus,
      // Before the socket says, `me` does (a candidate reloading after End goes to the end screen).
      roomState: this.room.interviewState ?? this.room.me?.room_state ?? null,
      closed: this.room.connection.state === 'closed'
    });
  }

  get screenChanged(): ISignal<this, Screen> {
    return this._screenChanged;
  }

  /** What the server lets us do with the room's files now (from `GET me`). */
  get access(): FileAccess {
    return this._access;
  }

  get me(): IMe | null {
    return this._me;
  }

  get accessChanged(): ISignal<this, FileAccess> {
    return this._accessChanged;
  }

  /** The room as `GET rooms/{id}` last said (title, language, settings, notebook path). */
  get record(): IRoomRecord | null {
    return this._record;
  }

  get recordChanged(): ISignal<this, IRoomRecord | null> {
    return this._recordChanged;
  }

  /** Each remote participant's media stream. */
  get streams(): ReadonlyMap<string, MediaStream> {
    return this._streams;
  }

  get streamsChanged(): ISignal<this, void> {
    return this._streamsChanged;
  }

  /** Each call leg's health, by remote participant id. */
  get health(): ReadonlyMap<string, ILinkHealth> {
    return this._health;
  }

  get healthChanged(): ISignal<this, void> {
    return this._healthChanged;
  }

  get sharingScreen(): boolean {
    return this.media.state.screen !== null;
  }

  /** Whether the candidate may share a screen (the room's `allow_candidate_screen_share`). */
  get candidateScreenAllowed(): boolean {
    return this._screenAllowed ?? true;
  }

  /** Whether we may share our screen now. */
  get mayShareScreen(): boolean {
    return this.room.myRole !== 'candidate' || this.candidateScreenAllowed;
  }

  /** The last failure of an action the user took (shown, then cleared by the next success). */
  get lastError(): string | null {
    return this._lastError;
  }

  get errorChanged(): ISignal<this, string | null> {
    return this._errorChanged;
  }

  /** The interviewer's notes (staff only; made on first use). */
  get notes(): NotesModel | null {
    if (!this.room.isStaff) {
      return null;
    }
    if (this._notes === null) {
      this._notes = new NotesModel({ api: this._notesAPI, roomId: this.roomId });
      void this._notes.load();
    }
    return this._notes;
  }

  /** Save unsaved notes now (the page is going away). */
  flushNotes(): Promise<void> {
    return this._notes?.flush() ?? Promise.resolve();
  }

  get joined(): boolean {
    return this._joined;
  }

  /**
   * Get ready to join while the participant checks their devices: the ICE servers are read now,
   * so that Join goes straight to the socket and the call.
   */
  prepare(): void {
    if (this._icePending === null && !this._joined && !this._disposed) {
      this._icePending = this._loadIce();
    }
  }

  /** Enter the room: ICE servers (unless `prepare` read them), then the socket and the call. */
  join(): void {
    if (this._joined || this._disposed) {
      return;
    }
    this._joined = true;
    this._emitScreen();
    void this.refreshRecord();
    void this._join();
  }

  toggleMic(): void {
    this.media.setMic(!this.media.state.mic);
  }

  toggleCam(): void {
    this.media.setCam(!this.media.state.cam);
  }

  async toggleScreen(): Promise<void> {
    if (this.sharingScreen) {
      this.media.stopScreen();
      return;
    }
    if (this.room.myRole === 'candidate') {
      // The interviewer may have forbidden it since we last looked.
      await this.refreshRecord();
      if (!this.candidateScreenAllowed) {
        this._fail('The interviewer has turned screen sharing off.');
        return;
      }
    }
    await this.media.startScreen();
  }

  async setCandidateScreenAllowed(allow: boolean): Promise<void> {
    // Shown at once (a checkbox that lags behind the click reads as broken); undone on refusal.
    const before = this._screenAllowed;
    this._applySettings({ allow_candidate_screen_share: allow });
    if (!(await this._patch({ allow_candidate_screen_share: allow }))) {
      this._applySettings({ allow_candidate_screen_share: before ?? true });
    }
  }

  async setLanguage(language: string): Promise<void> {
    await this._patch({ language });
  }

  startInterview(): void {
    this.room.startInterview();
  }

  endInterview(): void {
    this.room.endInterview();
  }

  async refreshRecord(): Promise<void> {
    try {
      this._setRecord(await this._rooms.getRoom(this.roomId));
    } catch (reason) {
      console.warn('jupyter-interview: cannot read the room', reason);
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._cancelStats?.();
    this._cancelIce?.();
    this._cancelMe?.();
    window.removeEventListener('online', this._onOnline);
    document.removeEventListener('visibilitychange', this._onVisibility);
    void this._notes?.flush();
    this._notes?.dispose();
    this._mesh?.dispose();
    this._client?.dispose();
    this.media.dispose();
    Signal.clearData(this);
  }

  // ------------------------------------------------------------------ joining
  private async _join(): Promise<void> {
    const ice = await (this._icePending ?? this._loadIce());
    if (this._disposed) {
      return;
    }
    const client = new SignalingClient({
      url: roomSocketUrl(this._server, this.roomId),
      // Back within a fraction of a short cut (the call and chat with it), still capped for long ones.
      backoff: { outageFraction: 0.25 },
      hello: () => ({ media: { ...this.room.myMedia }, client: 'jupyterlab' })
    });
    this._client = client;
    this.room.attach(client);
    // Every welcome carries the room's settings, and the server sends a fresh one when they change.
    client.welcome.connect((_, welcome) => this._applySettings(welcome.settings));
    client.stateChanged.connect((_, status) =>
      console.debug(`jupyter-interview: socket ${JSON.stringify(status)}`)
    );
    this._announceMedia();
    const factory: PeerFactory<MediaStreamTrack, MediaStream> = () => {
      const config: RTCConfiguration =
        this._ice === null ? {} : (rtcConfiguration(this._ice) as RTCConfiguration);
      return new RTCPeerConnection(config);
    };
    this._ice = ice;
    const mesh = new Mesh<MediaStreamTrack, MediaStream>({
      port: client,
      createPeer: factory,
      recoverAfterMs: 1500,
      onError: (error, context) => console.warn(`jupyter-interview: call: ${context}`, error)
    });
    this._mesh = mesh;
    mesh.remoteTrack.connect((_, track) => {
      let stream = track.streams[0];
      if (stream === undefined) {
        stream = this._streams.get(track.participantId) ?? new MediaStream();
        stream.addTrack(track.track);
      }
      this._streams.set(track.participantId, stream);
      this._streamsChanged.emit();
    });
    mesh.linksChanged.connect(() => {
      for (const id of [...this._streams.keys()]) {
        if (!mesh.links.has(id)) {
          this._streams.delete(id);
          this._health.delete(id);
        }
      }
      this._streamsChanged.emit();
      this._healthChanged.emit();
    });
    mesh.peerStateChanged.connect((_, { participantId, state }) => {
      console.debug(`jupyter-interview: call ${participantId}: ${JSON.stringify(state)}`);
      const before = this._health.get(participantId) ?? UNKNOWN_HEALTH;
      if (state.connection === 'failed' || state.ice === 'disconnected' || state.ice === 'failed') {
        this._health.set(participantId, { ...before, quality: 'poor' });
        this._healthChanged.emit();
      }
    });
    void mesh.setLocalMedia(this._localMedia());
    client.connect();
    // The browser knows before the backoff does that the network is back; and a hidden page is
    // "away" for the others.
    window.addEventListener('online', this._onOnline);
    document.addEventListener('visibilitychange', this._onVisibility);
    this._scheduleStats();
  }

  private async _loadIce(): Promise<IIceServers | null> {
    try {
      const ice = await this._api.getIceServers(this.roomId);
      this._scheduleIceRefresh(ice);
      return ice;
    } catch (reason) {
      // Without STUN/TURN a call still connects on one machine or one network.
      console.warn('jupyter-interview: no ICE servers, calling without STUN/TURN', reason);
      return null;
    }
  }

  /** TURN credentials expire: fetch new ones in time, for new legs and ICE restarts. */
  private _scheduleIceRefresh(ice: IIceServers): void {
    const at = refreshAt(ice, Date.now() / 1000);
    if (at === null) {
      return;
    }
    this._cancelIce?.();
    this._cancelIce = this._scheduler.after(Math.max(1000, at * 1000 - Date.now()), () => {
      void this._loadIce().then(fresh => {
        if (fresh === null || this._disposed) {
          return;
        }
        this._ice = fresh;
        this._icePending = Promise.resolve(fresh); // what a Join still to come uses
        const config = rtcConfiguration(fresh) as RTCConfiguration;
        for (const link of this._mesh?.links.values() ?? []) {
          try {
            (link.pc as StatsPeer).setConfiguration?.(config);
          } catch (error) {
            console.warn('jupyter-interview: cannot update ICE servers of a call', error);
          }
        }
      });
    });
  }

  // ------------------------------------------------------------------ media
  private _localMedia(): { stream: MediaStream | null; audio: MediaStreamTrack | null; video: MediaStreamTrack | null } {
    const state = this.media.state;
    return { stream: this.media.stream, audio: state.audio, video: this.media.videoTrack };
  }

  private _onMediaChanged(): void {
    this._announceMedia();
    if (this._mesh !== null) {
      void this._mesh.setLocalMedia(this._localMedia());
    }
  }

  private _onScreenEnded(): void {
    this._announceMedia();
  }

  private _announceMedia(): void {
    const state = this.media.state;
    const media = { mic: state.mic, cam: state.cam, screen: state.screen !== null };
    const before = this.room.myMedia;
    if (before.mic !== media.mic || before.cam !== media.cam || before.screen !== media.screen) {
      this.room.setMedia(media);
    }
  }

  // ------------------------------------------------------------------ health
  private _scheduleStats(): void {
    this._cancelStats = this._scheduler.after(STATS_EVERY_MS, () => {
      void this._readStats().finally(() => {
        if (!this._disposed) {
          this._scheduleStats();
        }
      });
    });
  }

  private async _readStats(): Promise<void> {
    const mesh = this._mesh;
    if (mesh === null) {
      return;
    }
    let changed = false;
    await Promise.all(
      [...mesh.links.entries()].map(async ([id, link]) => {
        const pc = link.pc as StatsPeer;
        if (typeof pc.getStats !== 'function') {
          return;
        }
        try {
          const report = await pc.getStats();
          const sample = sampleFromReport(report, this._scheduler.now());
          const health = assessHealth(this._samples.get(id) ?? null, sample, link.state);
          this._samples.set(id, sample);
          this._health.set(id, health);
          changed = true;
        } catch (error) {
          console.debug('jupyter-interview: getStats failed', error);
        }
      })
    );
    for (const id of [...this._samples.keys()]) {
      if (!mesh.links.has(id)) {
        this._samples.delete(id);
      }
    }
    if (changed) {
      this._healthChanged.emit();
    }
  }

  // ------------------------------------------------------------------ room state
  private _onRoomChanged(): void {
    this._emitScreen();
    // What we may do with files follows admission and the room's state: ask the server.
    this._cancelMe?.();
    this._cancelMe = this._scheduler.after(50, () => {
      this._cancelMe = null;
      void this._loadMe();
    });
  }

  private _emitScreen(): void {
    const screen = this.screen;
    if (screen !== this._lastScreen) {
      const before = this._lastScreen;
      this._lastScreen = screen;
      if (screen === 'ended' && this.room.myRole === 'candidate') {
        // Nothing to send any more: let go of the camera and microphone.
        this.media.stopScreen(false);
        this.media.dispose();
      }
      if (screen === 'room' && before !== 'room') {
        void this.refreshRecord();
      }
      this._screenChanged.emit(screen);
    }
  }

  private async _loadMe(): Promise<void> {
    try {
      const me = await this._api.getMe(this.roomId);
      if (this._disposed) {
        return;
      }
      this._me = me;
      const access = fileAccess(me.permissions);
      if (access !== this._access) {
        this._access = access;
        this._accessChanged.emit(access);
      }
    } catch (reason) {
      console.warn('jupyter-interview: cannot read what this participant may do', reason);
    }
  }

  private _setRecord(record: IRoomRecord): void {
    this._record = record;
    this._applySettings(record.settings, false);
    this._recordChanged.emit(record);
  }

  /** The latest settings, from a welcome or a REST answer, whichever came last. */
  private _applySettings(settings: Record<string, unknown> | undefined, emit = true): void {
    const allowed = settings?.allow_candidate_screen_share;
    if (typeof allowed !== 'boolean' || allowed === this._screenAllowed) {
      return;
    }
    this._screenAllowed = allowed;
    if (this.room.myRole === 'candidate' && !allowed && this.sharingScreen) {
      this.media.stopScreen();
      this._fail('The interviewer has turned screen sharing off.');
    }
    if (emit) {
      this._recordChanged.emit(this._record);
    }
  }

  private async _patch(patch: Record<string, unknown>): Promise<boolean> {
    try {
      this._setRecord(await this._rooms.patchRoom(this.roomId, patch));
      this._fail(null);
      return true;
    } catch (reason) {
      this._fail(reason instanceof Error ? reason.message : String(reason));
      return false;
    }
  }

  private _fail(message: string | null): void {
    if (message !== this._lastError) {
      this._lastError = message;
      this._errorChanged.emit(message);
    }
  }

  private readonly _onOnline = (): void => {
    this._client?.reconnectNow();
  };

  private readonly _onVisibility = (): void => {
    const hidden = document.visibilityState === 'hidden';
    if (!hidden) {
      this._client?.reconnectNow();
    }
    if (this.screen === 'room') {
      this.room.setAway(hidden);
    }
  };

  private readonly _server: IServerLocation;
  private readonly _api: IRoomAPI;
  private readonly _rooms: IRoomsAPI;
  private readonly _notesAPI: INotesAPI;
  private readonly _scheduler: Scheduler;
  private _client: SignalingClient | null = null;
  private _mesh: Mesh<MediaStreamTrack, MediaStream> | null = null;
  private _ice: IIceServers | null = null;
  private _notes: NotesModel | null = null;
  private _record: IRoomRecord | null = null;
  private _screenAllowed: boolean | null = null;
  private _me: IMe | null = null;
  private _access: FileAccess = 'none';
  private _joined = false;
  private _icePending: Promise<IIceServers | null> | null = null;
  private _disposed = false;
  private _lastScreen: Screen | null = null;
  private _lastError: string | null = null;
  private readonly _streams = new Map<string, MediaStream>();
  private readonly _health = new Map<string, ILinkHealth>();
  private readonly _samples = new Map<string, IStatsSample>();
  private _cancelStats: Cancel | null = null;
  private _cancelIce: Cancel | null = null;
  private _cancelMe: Cancel | null = null;
  private readonly _screenChanged = new Signal<this, Screen>(this);
  private readonly _accessChanged = new Signal<this, FileAccess>(this);
  private readonly _recordChanged = new Signal<this, IRoomRecord | null>(this);
  private readonly _streamsChanged = new Signal<this, void>(this);
  private readonly _healthChanged = new Signal<this, void>(this);
  private readonly _errorChanged = new Signal<this, string | null>(this);
}
