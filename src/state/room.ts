/**
 * The room model: what the views show (people, chat, timer, interview state, waiting room, the
 * connection), kept from the room socket's events, with Lumino signals. It talks to the network
 * only through the signaling client it is attached to, and the REST API it is given.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { IConnectionStatus, ISignalingClient } from '../signaling/client';
import {
  ActivityPayload,
  AnyEnvelope,
  ChatMessagePayload,
  ErrorPayload,
  KernelPayload,
  TimerPayload,
  WaitingRoomPayload,
  WelcomePayload
} from '../signaling/events';
import { Cancel, Scheduler, realScheduler } from '../signaling/runtime';
import { IMe, IRoomModel, Role } from '../tokens';
import type { IRoomAPI, ParticipantStatus, RoomStateName } from './api';
import {
  ServerClock,
  TimerSnapshot,
  isLastMinutes,
  isTimeUp,
  remainingSeconds,
  timerFromPayload
} from './clock';

export type Presence = 'online' | 'away' | 'reconnecting' | 'offline';

export interface IMediaState {
  mic: boolean;
  cam: boolean;
  screen: boolean;
}

export interface IParticipant {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly presence: Presence;
  readonly media: Readonly<IMediaState>;
  readonly handRaised: boolean;
}

export interface IChatEntry {
  /** The server's chat id; for one of ours not yet confirmed, the id of the message we sent. */
  readonly id: string;
  readonly from: string;
  readonly name: string;
  readonly text: string;
  /** Server time, seconds. */
  readonly ts: number;
  readonly mine: boolean;
  /** Sent, not yet echoed by the server. */
  readonly pending: boolean;
  /** The server refused it (`error` naming its id). */
  readonly failed?: string;
}

export interface IKnock {
  readonly participantId: string;
  readonly name: string;
  /** Server time of the knock, seconds. */
  readonly at: number;
}

export interface IReaction {
  readonly participantId: string;
  readonly emoji: string;
}

export interface IRoomModelOptions {
  /** The REST API, for what the socket does not tell (the waiting list when joining late). */
  api?: IRoomAPI;
  scheduler?: Scheduler;
  clock?: ServerClock;
  /** A typing indicator with no refresh disappears after this long, ms. */
  typingTimeoutMs?: number;
  /** A waiting candidate knocks by itself on every welcome. */
  autoKnock?: boolean;
}

const NO_MEDIA: IMediaState = { mic: false, cam: false, screen: false };

/** How often at most a "still typing" goes out, ms; the timeout on the other side is longer. */
const TYPING_REFRESH_MS = 3000;

function isRole(value: string): value is Role {
  return value === 'owner' || value === 'interviewer' || value === 'candidate';
}

/**
 * The room of this page. Without `attach` it is just the page's room id and `me` (what the core
 * plugin fills from `GET rooms/{id}/me`); attached to a signaling client it follows the room live.
 */
export class RoomModel implements IRoomModel {
  constructor(
    readonly roomId: string | null,
    options: IRoomModelOptions = {}
  ) {
    this._api = options.api ?? null;
    this._scheduler = options.scheduler ?? realScheduler;
    this.clock = options.clock ?? new ServerClock(() => this._scheduler.now());
    this._typingTimeoutMs = options.typingTimeoutMs ?? 6000;
    this._autoKnock = options.autoKnock ?? true;
  }

  /** Server time for the timer. */
  readonly clock: ServerClock;

  // ---------------------------------------------------------------- identity (IRoomModel)
  get me(): IMe | null {
    return this._me;
  }

  get error(): Error | null {
    return this._error;
  }

  /** Emitted whenever `me`, `error`, `myId`, `myRole` or `myStatus` changes. */
  get changed(): ISignal<IRoomModel, void> {
    return this._changed;
  }

  setMe(me: IMe): void {
    this._me = me;
    this._error = null;
    this._changed.emit();
  }

  setError(error: Error): void {
    this._error = error;
    this._changed.emit();
  }

  /** Our participant id on the socket (from the welcome). */
  get myId(): string | null {
    return this._myId;
  }

  get myRole(): Role | null {
    return this._myRole ?? this._me?.role ?? null;
  }

  /** Our admission status (`waiting`, `admitted`, `denied`, ...). */
  get myStatus(): string | null {
    return this._myStatus;
  }

  get isStaff(): boolean {
    const role = this.myRole;
    return role === 'owner' || role === 'interviewer';
  }

  // ---------------------------------------------------------------- connection
  get connection(): IConnectionStatus {
    return this._connection;
  }

  get connectionChanged(): ISignal<this, IConnectionStatus> {
    return this._connectionChanged;
  }

  // ---------------------------------------------------------------- people
  get participants(): ReadonlyMap<string, IParticipant> {
    return this._participants;
  }

  get participantsChanged(): ISignal<this, void> {
    return this._participantsChanged;
  }

  /** Who is typing now (participant ids, not us). */
  get typing(): ReadonlySet<string> {
    return this._typing;
  }

  get typingChanged(): ISignal<this, void> {
    return this._typingChanged;
  }

  get reaction(): ISignal<this, IReaction> {
    return this._reaction;
  }

  // ---------------------------------------------------------------- chat
  get chat(): ReadonlyArray<IChatEntry> {
    return this._chat;
  }

  get unread(): number {
    return this._unread;
  }

  get chatChanged(): ISignal<this, void> {
    return this._chatChanged;
  }

  /** While the chat is open, new messages are read as they come. */
  setChatOpen(open: boolean): void {
    this._chatOpen = open;
    if (open) {
      this.markChatRead();
    }
  }

  markChatRead(): void {
    if (this._unread !== 0) {
      this._unread = 0;
      this._chatChanged.emit();
    }
  }

  // ---------------------------------------------------------------- interview, timer, waiting room
  get interviewState(): RoomStateName | null {
    return this._interviewState;
  }

  get interviewStateChanged(): ISignal<this, RoomStateName> {
    return this._interviewStateChanged;
  }

  /** The room's settings from the welcome (`allow_candidate_screen_share`, ...). */
  get settings(): Readonly<Record<string, unknown>> {
    return this._settings;
  }

  get timer(): TimerSnapshot | null {
    return this._timer;
  }

  get timerChanged(): ISignal<this, TimerSnapshot | null> {
    return this._timerChanged;
  }

  /** Seconds left now (views re-read it on their own tick). */
  remaining(): number | null {
    return this._timer === null ? null : remainingSeconds(this._timer, this.clock.now());
  }

  isLastMinutes(): boolean {
    return this._timer !== null && isLastMinutes(this._timer, this.clock.now());
  }

  isTimeUp(): boolean {
    return this._timer !== null && isTimeUp(this._timer, this.clock.now());
  }

  /** The room notebook's kernel as the server last described it (admitted members only). */
  get kernel(): KernelPayload | null {
    return this._kernel;
  }

  get kernelChanged(): ISignal<this, KernelPayload | null> {
    return this._kernelChanged;
  }

  /** Candidates knocking, for interviewers. */
  get knocks(): ReadonlyMap<string, IKnock> {
    return this._knocks;
  }

  get knocksChanged(): ISignal<this, void> {
    return this._knocksChanged;
  }

  get activity(): ISignal<this, ActivityPayload & { from?: string }> {
    return this._activity;
  }

  /** Messages the server refused. */
  get serverError(): ISignal<this, ErrorPayload> {
    return this._serverError;
  }

  // ---------------------------------------------------------------- attaching
  /** Follow the room through `client` (once). */
  attach(client: ISignalingClient): void {
    if (this._client !== null) {
      throw new Error('the room model is already attached to a signaling client');
    }
    this._client = client;
    this._connection = client.status;
    client.message.connect(this._onMessage, this);
    client.stateChanged.connect(this._onState, this);
    client.roundTrip.connect((_, trip) => {
      this.clock.roundTrip(trip.sentAt, trip.serverTs, trip.receivedAt);
    }, this);
  }

  dispose(): void {
    if (this._client !== null) {
      this._client.message.disconnect(this._onMessage, this);
      this._client.stateChanged.disconnect(this._onState, this);
      Signal.disconnectReceiver(this);
    }
    for (const cancel of this._typingTimers.values()) {
      cancel();
    }
    this._typingTimers.clear();
    Signal.clearData(this);
  }

  // ---------------------------------------------------------------- actions
  /** Post a chat message; it shows at once as pending until the server echoes it. */
  sendChat(text: string): string | null {
    const trimmed = text.trim();
    if (trimmed.length === 0 || this._client === null) {
      return null;
    }
    const id = this._client.send('chat-message', { text: trimmed });
    if (id === null) {
      return null;
    }
    this._chat = [
      ...this._chat,
      {
        id,
        from: this._myId ?? '',
        name: this._me?.name ?? '',
        text: trimmed,
        ts: this.clock.now(),
        mine: true,
        pending: true
      }
    ];
    this._typingSent(false);
    this._chatChanged.emit();
    return id;
  }

  /** Call on every keystroke (true) and when the input empties or loses focus (false). */
  setTyping(typing: boolean): void {
    if (this._client === null) {
      return;
    }
    const now = this._scheduler.now();
    if (typing) {
      if (this._typingSentAt === null || now - this._typingSentAt >= TYPING_REFRESH_MS) {
        if (this._client.send('typing', { typing: true }) !== null) {
          this._typingSentAt = now;
        }
      }
    } else {
      this._typingSent(false);
    }
  }

  /** Announce our mic, camera and screen state (the others show the icons). */
  setMedia(media: Partial<IMediaState>): void {
    this._myMedia = { ...this._myMedia, ...media };
    this._client?.send('presence', { media: { ...this._myMedia } });
    this._updateParticipant(this._myId, p => ({ ...p, media: { ...this._myMedia } }));
  }

  /**
   * The media state as last announced. Give it to the signaling client's `hello` option so that
   * every (re)connection announces it: a restarted server knows nothing of it.
   */
  get myMedia(): Readonly<IMediaState> {
    return this._myMedia;
  }

  setAway(away: boolean): void {
    this._client?.send('presence', { status: away ? 'away' : 'online' });
  }

  raiseHand(raised: boolean): void {
    this._client?.send('raise-hand', { raised });
  }

  react(emoji: string): void {
    this._client?.send('reaction', { emoji });
  }

  timerAction(action: NonNullable<TimerPayload['action']>, minutes?: number): void {
    this._client?.send('timer', minutes === undefined ? { action } : { action, minutes });
  }

  startInterview(): void {
    this._client?.send('interview-state', { state: 'live' });
  }

  endInterview(): void {
    this._client?.send('interview-state', { state: 'ended' });
  }

  admit(participantId: string): void {
    this._client?.send('waiting-room', { action: 'admit', participant_id: participantId });
  }

  deny(participantId: string): void {
    this._client?.send('waiting-room', { action: 'deny', participant_id: participantId });
  }

  knock(): void {
    this._client?.send('waiting-room', { action: 'knock' });
  }

  // ---------------------------------------------------------------- events
  private _onState(_sender: unknown, status: IConnectionStatus): void {
    this._connection = status;
    if (status.state !== 'open') {
      this._typingSentAt = null;
    }
    this._connectionChanged.emit(status);
  }

  private _onMessage(_sender: unknown, envelope: AnyEnvelope): void {
    if (typeof envelope.ts === 'number' && envelope.type !== 'welcome') {
      this.clock.observe(envelope.ts);
    }
    switch (envelope.type) {
      case 'welcome':
        this._welcome(envelope.payload);
        break;
      case 'user-joined': {
        const p = envelope.payload.participant;
        const before = this._participants.get(p.id);
        this._participants.set(p.id, {
          id: p.id,
          name: p.name,
          role: p.role,
          presence: p.presence ?? 'online',
          media: { ...NO_MEDIA, ...before?.media, ...p.media },
          handRaised: p.hand_raised ?? false
        });
        this._participantsChanged.emit();
        break;
      }
      case 'user-left': {
        const id = envelope.payload.participant_id;
        if (this._participants.delete(id)) {
          this._participantsChanged.emit();
        }
        this._stopTyping(id);
        if (this._knocks.delete(id)) {
          this._knocksChanged.emit();
        }
        break;
      }
      case 'presence': {
        const { participant_id, status, media } = envelope.payload;
        this._updateParticipant(participant_id ?? envelope.from ?? null, p => ({
          ...p,
          presence: status ?? p.presence,
          media: { ...p.media, ...media }
        }));
        break;
      }
      case 'raise-hand':
        this._updateParticipant(envelope.from ?? null, p => ({
          ...p,
          handRaised: envelope.payload.raised
        }));
        break;
      case 'reaction':
        if (envelope.from !== undefined) {
          this._reaction.emit({ participantId: envelope.from, emoji: envelope.payload.emoji });
        }
        break;
      case 'typing':
        if (envelope.from !== undefined && envelope.from !== this._myId) {
          if (envelope.payload.typing) {
            this._startTyping(envelope.from);
          } else {
            this._stopTyping(envelope.from);
          }
        }
        break;
      case 'chat-message':
        this._chatMessage(envelope.id, envelope.from ?? '', envelope.payload, envelope.ts);
        break;
      case 'timer': {
        const snapshot = timerFromPayload(envelope.payload);
        if (snapshot !== null) {
          this._timer = snapshot;
          this._timerChanged.emit(snapshot);
        }
        break;
      }
      case 'interview-state':
        this._setInterviewState(envelope.payload.state);
        break;
      case 'waiting-room':
        this._waitingRoom(envelope.payload, envelope.ts);
        break;
      case 'activity':
        this._activity.emit({ ...envelope.payload, from: envelope.from });
        break;
      case 'kernel':
        this._setKernel(envelope.payload);
        break;
      case 'error':
        this._refused(envelope.payload);
        break;
      default:
        break;
    }
  }

  private _welcome(payload: WelcomePayload): void {
    this.clock.reset(payload.server_now);
    const idChanged = this._myId !== payload.participant_id;
    const roleChanged = this._myRole !== payload.role;
    const statusChanged = this._myStatus !== (payload.status ?? null);
    this._myId = payload.participant_id;
    this._myRole = isRole(payload.role) ? payload.role : null;
    this._myStatus = payload.status ?? null;
    if (idChanged || roleChanged || statusChanged) {
      this._changed.emit();
    }
    this._settings = payload.settings ?? {};
    this._setInterviewState(payload.room_state);

    if (!payload.resumed) {
      // The full state: rebuild what is not persisted (presence, typing, hands) from it.
      this._participants.clear();
      for (const p of payload.participants ?? []) {
        this._participants.set(p.id, {
          id: p.id,
          name: p.name,
          role: p.role,
          presence: p.presence ?? 'online',
          media: { ...NO_MEDIA, ...p.media },
          handRaised: p.hand_raised ?? false
        });
      }
      this._participantsChanged.emit();
      for (const id of [...this._typing]) {
        this._stopTyping(id);
      }
    }

    if (payload.chat !== undefined) {
      this._mergeHistory(payload.chat);
    }
    if (payload.timer !== undefined) {
      this._timer = payload.timer;
      this._timerChanged.emit(this._timer);
    }
    if (payload.kernel !== undefined) {
      this._setKernel(payload.kernel);
    }

    if (this._autoKnock && this._myRole === 'candidate' && this._myStatus === 'waiting') {
      this.knock();
    }
    if (this.isStaff && this._api !== null && this.roomId !== null) {
      void this._loadWaiting(this._api, this.roomId);
    }
    this._welcomed = true;
  }

  /** A late joiner learns of candidates already waiting from the REST API (no knock replay). */
  private async _loadWaiting(api: IRoomAPI, roomId: string): Promise<void> {
    try {
      const room = await api.getRoom(roomId);
      let changed = false;
      for (const p of room.participants ?? []) {
        const waiting: ParticipantStatus = 'waiting';
        if (p.role === 'candidate' && p.status === waiting && !this._knocks.has(p.id)) {
          this._knocks.set(p.id, { participantId: p.id, name: p.name, at: this.clock.now() });
          changed = true;
        } else if (p.status !== waiting && this._knocks.delete(p.id)) {
          changed = true;
        }
      }
      if (changed) {
        this._knocksChanged.emit();
      }
    } catch (reason) {
      console.warn('jupyter-interview: cannot load the waiting list', reason);
    }
  }

  private _mergeHistory(history: NonNullable<WelcomePayload['chat']>): void {
    const known = new Set(this._chat.filter(entry => !entry.pending).map(entry => entry.id));
    const entries: IChatEntry[] = history.map(m => ({
      id: m.id,
      from: m.from,
      name: m.name,
      text: m.text,
      ts: m.ts,
      mine: m.from === this._myId,
      pending: false
    }));
    const fresh = this._welcomed
      ? entries.filter(entry => !known.has(entry.id) && !entry.mine).length
      : 0;
    // Ours still pending stay at the end: their echo (or a refusal) is still to come. One whose
    // echo was lost with the socket is in the history already: drop it there.
    const mineInHistory = new Set(entries.filter(e => e.mine).map(e => e.text));
    const pending = this._chat.filter(
      entry => (entry.pending && !mineInHistory.has(entry.text)) || entry.failed !== undefined
    );
    this._chat = [...entries, ...pending];
    if (fresh > 0 && !this._chatOpen) {
      this._unread += fresh;
    }
    this._chatChanged.emit();
  }

  private _chatMessage(
    envelopeId: string,
    from: string,
    payload: ChatMessagePayload,
    ts: number | undefined
  ): void {
    const id = payload.id ?? envelopeId;
    if (this._chat.some(entry => entry.id === id && !entry.pending)) {
      return; // already known (history, then the same message replayed on resume)
    }
    const mine = from === this._myId;
    const entry: IChatEntry = {
      id,
      from,
      name: payload.name ?? this._participants.get(from)?.name ?? '',
      text: payload.text,
      ts: payload.ts ?? ts ?? this.clock.now(),
      mine,
      pending: false
    };
    const pendingAt = this._chat.findIndex(e => e.pending && e.id === envelopeId);
    if (pendingAt >= 0) {
      const chat = [...this._chat];
      chat.splice(pendingAt, 1);
      this._chat = [...chat, entry];
    } else {
      this._chat = [...this._chat, entry];
      if (!mine && !this._chatOpen) {
        this._unread++;
      }
    }
    this._stopTyping(from);
    this._chatChanged.emit();
  }

  private _refused(error: ErrorPayload): void {
    const id = error.id;
    if (typeof id === 'string') {
      const at = this._chat.findIndex(entry => entry.pending && entry.id === id);
      if (at >= 0) {
        const chat = [...this._chat];
        chat[at] = { ...chat[at], pending: false, failed: error.message };
        this._chat = chat;
        this._chatChanged.emit();
      }
    }
    this._serverError.emit(error);
  }

  private _waitingRoom(payload: WaitingRoomPayload, ts: number | undefined): void {
    const id = payload.participant_id;
    if (id === undefined) {
      return;
    }
    if (payload.action === 'knock') {
      if (id !== this._myId) {
        this._knocks.set(id, {
          participantId: id,
          name: payload.name ?? id,
          at: ts ?? this.clock.now()
        });
        this._knocksChanged.emit();
      }
      return;
    }
    if (this._knocks.delete(id)) {
      this._knocksChanged.emit();
    }
    if (id === this._myId) {
      this._myStatus = payload.action === 'admit' ? 'admitted' : 'denied';
      this._changed.emit();
    }
  }

  private _setKernel(kernel: KernelPayload): void {
    const before = this._kernel;
    if (
      before === null ||
      before.status !== kernel.status ||
      before.kernel_id !== kernel.kernel_id ||
      before.language !== kernel.language ||
      before.reason !== kernel.reason
    ) {
      this._kernel = { ...kernel };
      this._kernelChanged.emit(this._kernel);
    }
  }

  private _setInterviewState(state: RoomStateName): void {
    if (this._interviewState !== state) {
      this._interviewState = state;
      this._interviewStateChanged.emit(state);
    }
  }

  private _updateParticipant(id: string | null, update: (p: IParticipant) => IParticipant): void {
    if (id === null) {
      return;
    }
    const p = this._participants.get(id);
    if (p !== undefined) {
      this._participants.set(id, update(p));
      this._participantsChanged.emit();
    }
  }

  private _startTyping(id: string): void {
    this._typingTimers.get(id)?.();
    this._typingTimers.set(
      id,
      this._scheduler.after(this._typingTimeoutMs, () => this._stopTyping(id))
    );
    if (!this._typing.has(id)) {
      this._typing.add(id);
      this._typingChanged.emit();
    }
  }

  private _stopTyping(id: string): void {
    this._typingTimers.get(id)?.();
    this._typingTimers.delete(id);
    if (this._typing.delete(id)) {
      this._typingChanged.emit();
    }
  }

  private _typingSent(typing: false): void {
    if (this._typingSentAt !== null) {
      this._typingSentAt = null;
      this._client?.send('typing', { typing });
    }
  }

  private readonly _api: IRoomAPI | null;
  private readonly _scheduler: Scheduler;
  private readonly _typingTimeoutMs: number;
  private readonly _autoKnock: boolean;
  private _client: ISignalingClient | null = null;
  private _me: IMe | null = null;
  private _error: Error | null = null;
  private _myId: string | null = null;
  private _myRole: Role | null = null;
  private _myStatus: string | null = null;
  private _myMedia: IMediaState = { ...NO_MEDIA };
  private _welcomed = false;
  private _connection: IConnectionStatus = { state: 'connecting' };
  private readonly _participants = new Map<string, IParticipant>();
  private readonly _typing = new Set<string>();
  private readonly _typingTimers = new Map<string, Cancel>();
  private _typingSentAt: number | null = null;
  private _chat: IChatEntry[] = [];
  private _unread = 0;
  private _chatOpen = false;
  private _interviewState: RoomStateName | null = null;
  private _settings: Record<string, unknown> = {};
  private _timer: TimerSnapshot | null = null;
  private _kernel: KernelPayload | null = null;
  private readonly _knocks = new Map<string, IKnock>();
  private readonly _changed = new Signal<IRoomModel, void>(this);
  private readonly _connectionChanged = new Signal<this, IConnectionStatus>(this);
  private readonly _participantsChanged = new Signal<this, void>(this);
  private readonly _typingChanged = new Signal<this, void>(this);
  private readonly _reaction = new Signal<this, IReaction>(this);
  private readonly _chatChanged = new Signal<this, void>(this);
  private readonly _interviewStateChanged = new Signal<this, RoomStateName>(this);
  private readonly _timerChanged = new Signal<this, TimerSnapshot | null>(this);
  private readonly _kernelChanged = new Signal<this, KernelPayload | null>(this);
  private readonly _knocksChanged = new Signal<this, void>(this);
  private readonly _activity = new Signal<this, ActivityPayload & { from?: string }>(this);
  private readonly _serverError = new Signal<this, ErrorPayload>(this);
}
