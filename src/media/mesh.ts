/**
 * The call: one `PeerLink` per remote participant (2 to 4 people, a full mesh), made and dropped
 * as the room socket announces people, with signaling messages routed by their `from`.
 */

import { ISignal, Signal } from '@lumino/signaling';

import { ISignalingPort } from '../signaling/client';
import { AnyEnvelope, WelcomePayload } from '../signaling/events';
import { Cancel, Scheduler, realScheduler } from '../signaling/runtime';
import { IPeerState, IRemoteTrack, PeerLink, SignalMessage } from './negotiation';
import { PeerFactory, TrackLike } from './peer';

type Role = 'owner' | 'interviewer' | 'candidate';

/** What we send: each kind may be absent (no camera, permission denied, receive-only). */
export interface ILocalMedia<T, S> {
  readonly stream: S | null;
  readonly audio: T | null;
  readonly video: T | null;
}

export interface IMeshTrack<T, S> extends IRemoteTrack<T, S> {
  readonly participantId: string;
}

export interface IMeshOptions<T extends TrackLike, S> {
  port: ISignalingPort;
  createPeer: PeerFactory<T, S>;
  scheduler?: Scheduler;
  /** Passed to each link: ICE disconnected this long is restarted, ms. */
  disconnectedTimeoutMs?: number;
  /** After a re-welcome, links still unsettled this much later are recovered, ms (default 3000). */
  recoverAfterMs?: number;
  /**
   * When a participant comes back from `reconnecting` (their socket dropped: what we sent them
   * meanwhile is lost), their link is recovered this much later if still unsettled, ms (default
   * 1000: time for what they queued to arrive first).
   */
  peerBackAfterMs?: number;
  onError?: (error: unknown, context: string) => void;
}

/**
 * Who starts a call leg. Staff call staff, and a candidate who is in the call calls everyone;
 * staff never call a candidate first: whether a candidate may take part (admitted, interview live)
 * is the server's to say, and it says so by letting the candidate in, whose client then calls.
 * Offering to a candidate still in the waiting room would only collect refusals, which count
 * towards the socket's abuse limit.
 */
export function initiatesCall(myRole: Role | null, theirRole: Role | null): boolean {
  if (myRole === 'candidate') {
    return true;
  }
  return theirRole !== null && theirRole !== 'candidate';
}

/** A link waiting for an answer, or whose ICE is down: what lost signaling leaves behind. */
function isStuck(link: { state: IPeerState }): boolean {
  const { signaling, ice } = link.state;
  return signaling !== 'stable' || ice === 'disconnected' || ice === 'failed';
}

function asRole(value: string | undefined): Role | null {
  return value === 'owner' || value === 'interviewer' || value === 'candidate' ? value : null;
}

/**
 * Listens to the room socket: `welcome` and `user-joined` make links (see `initiatesCall`), an
 * `sdp-offer` from someone without a link makes one too, `user-left` drops it, and the end of the
 * interview drops a candidate's links. A participant announced again (after a server restart
 * everyone is) keeps a healthy link.
 */
export class Mesh<T extends TrackLike, S> {
  constructor(options: IMeshOptions<T, S>) {
    this._port = options.port;
    this._createPeer = options.createPeer;
    this._scheduler = options.scheduler ?? realScheduler;
    this._disconnectedTimeoutMs = options.disconnectedTimeoutMs;
    this._recoverAfterMs = options.recoverAfterMs ?? 3000;
    this._peerBackAfterMs = options.peerBackAfterMs ?? 1000;
    this._onError = options.onError;
    this._port.message.connect(this._onMessage, this);
  }

  /** Our participant id, from the last welcome. */
  get localId(): string | null {
    return this._localId;
  }

  get links(): ReadonlyMap<string, PeerLink<T, S>> {
    return this._links;
  }

  get linksChanged(): ISignal<this, void> {
    return this._linksChanged;
  }

  /** A remote track arrived (a video tile shows `streams[0]`). */
  get remoteTrack(): ISignal<this, IMeshTrack<T, S>> {
    return this._remoteTrack;
  }

  /** A link's connection state changed (for the health indicator). */
  get peerStateChanged(): ISignal<this, { participantId: string; state: IPeerState }> {
    return this._peerStateChanged;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * What we send. New kinds are added to every link (one renegotiation); a changed track of a
   * kind already sent is swapped in without renegotiation.
   */
  async setLocalMedia(media: ILocalMedia<T, S>): Promise<void> {
    this._media = media;
    await Promise.all([...this._links.values()].map(link => this._applyMedia(link)));
  }

  /**
   * Send `track` as our video on every link (screen share, or back to the camera), by
   * `replaceTrack`: no renegotiation.
   */
  async swapVideo(track: T | null): Promise<void> {
    this._media = { ...this._media, video: track };
    const streams = this._media.stream === null ? [] : [this._media.stream];
    await Promise.all([...this._links.values()].map(link => link.swapVideo(track, ...streams)));
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._cancelRecover?.();
    for (const cancel of this._cancelPeerBack.values()) {
      cancel();
    }
    this._cancelPeerBack.clear();
    this._port.message.disconnect(this._onMessage, this);
    for (const link of this._links.values()) {
      link.dispose();
    }
    this._links.clear();
    Signal.clearData(this);
  }

  private _onMessage(_sender: unknown, envelope: AnyEnvelope): void {
    if (this._disposed) {
      return;
    }
    switch (envelope.type) {
      case 'welcome':
        this._welcome(envelope.payload);
        return;
      case 'user-joined': {
        const p = envelope.payload.participant;
        this._roles.set(p.id, asRole(p.role));
        this._joined(p.id);
        return;
      }
      case 'user-left':
        this._roles.delete(envelope.payload.participant_id);
        this._presence.delete(envelope.payload.participant_id);
        this._drop(envelope.payload.participant_id);
        return;
      case 'presence': {
        const id = envelope.payload.participant_id ?? envelope.from;
        const status = envelope.payload.status;
        if (id !== undefined && status !== undefined && id !== this._localId) {
          const before = this._presence.get(id);
          this._presence.set(id, status);
          if (before === 'reconnecting' && status === 'online') {
            this._peerBack(id);
          }
        }
        return;
      }
      case 'interview-state':
        if (envelope.payload.state === 'ended') {
          for (const id of [...this._links.keys()]) {
            if (this._myRole === 'candidate' || this._roles.get(id) === 'candidate') {
              this._drop(id);
            }
          }
        }
        return;
      case 'sdp-offer':
        this._route(envelope.from, { type: envelope.type, payload: envelope.payload }, true);
        return;
      case 'sdp-answer':
        this._route(envelope.from, { type: envelope.type, payload: envelope.payload }, false);
        return;
      case 'ice-candidate':
        this._route(envelope.from, { type: envelope.type, payload: envelope.payload }, false);
        return;
      case 'ice-restart':
        this._route(envelope.from, { type: envelope.type, payload: envelope.payload }, false);
        return;
      default:
        return;
    }
  }

  private _welcome(payload: WelcomePayload): void {
    const rewelcome = this._localId !== null;
    if (this._localId !== null && this._localId !== payload.participant_id) {
      this._dropAll();
    }
    this._localId = payload.participant_id;
    this._myRole = asRole(payload.role);
    if (payload.participants === undefined) {
      // No access to the call (waiting room, or the interview ended for a candidate).
      this._dropAll();
      return;
    }
    this._roles.clear();
    const present = new Set<string>();
    for (const p of payload.participants) {
      this._roles.set(p.id, asRole(p.role));
      present.add(p.id);
    }
    for (const id of [...this._links.keys()]) {
      if (!present.has(id)) {
        this._drop(id);
      }
    }
    for (const id of present) {
      this._joined(id);
    }
    if (rewelcome) {
      this._scheduleRecover();
    }
  }

  private _joined(id: string): void {
    if (id === this._localId || this._localId === null) {
      return;
    }
    const existing = this._links.get(id);
    if (existing !== undefined) {
      const { connection } = existing.state;
      if (connection !== 'failed' && connection !== 'closed') {
        return; // still up, or on its way: keep the media flowing
      }
      this._drop(id);
    }
    if (initiatesCall(this._myRole, this._roles.get(id) ?? null)) {
      this._create(id);
    }
  }

  private _route(from: string | undefined, message: SignalMessage, mayCreate: boolean): void {
    if (from === undefined || from === this._localId || this._localId === null) {
      return;
    }
    let link = this._links.get(from);
    if (link === undefined && mayCreate) {
      link = this._create(from);
    }
    if (link !== undefined) {
      void link.handle(message);
    }
  }

  private _create(remoteId: string): PeerLink<T, S> {
    const localId = this._localId ?? '';
    const link = new PeerLink<T, S>({
      localId,
      remoteId,
      pc: this._createPeer(remoteId),
      send: message => {
        this._port.send(message.type, message.payload, remoteId);
      },
      scheduler: this._scheduler,
      disconnectedTimeoutMs: this._disconnectedTimeoutMs,
      onError: this._onError
    });
    link.remoteTrack.connect((_, track) => {
      this._remoteTrack.emit({ participantId: remoteId, ...track });
    });
    link.stateChanged.connect((_, state) => {
      this._peerStateChanged.emit({ participantId: remoteId, state });
    });
    this._links.set(remoteId, link);
    void this._applyMedia(link);
    if (initiatesCall(this._myRole, this._roles.get(remoteId) ?? null)) {
      // A kind we do not send is still to be received: without any track at all there would be
      // no offer, and staff never call a candidate first.
      for (const kind of ['audio', 'video'] as const) {
        if (link.sender(kind) === null && link.pc.addTransceiver !== undefined) {
          link.pc.addTransceiver(kind, { direction: 'recvonly' });
        }
      }
    }
    this._linksChanged.emit();
    return link;
  }

  private async _applyMedia(link: PeerLink<T, S>): Promise<void> {
    const { stream, audio, video } = this._media;
    const streams = stream === null ? [] : [stream];
    for (const [kind, track] of [
      ['audio', audio],
      ['video', video]
    ] as const) {
      const sender = link.sender(kind);
      if (sender === null) {
        if (track !== null) {
          link.addTrack(track, ...streams);
        }
      } else if (sender.track !== track) {
        try {
          await sender.replaceTrack(track);
        } catch (error) {
          this._onError?.(error, `replacing the ${kind} track`);
        }
      }
    }
  }

  private _drop(id: string): void {
    const link = this._links.get(id);
    if (link !== undefined) {
      this._links.delete(id);
      link.dispose();
      this._linksChanged.emit();
    }
  }

  private _dropAll(): void {
    for (const id of [...this._links.keys()]) {
      this._drop(id);
    }
  }

  /** Signaling we sent `id` while their socket was down is lost: unstick their link if stuck. */
  private _peerBack(id: string): void {
    this._cancelPeerBack.get(id)?.();
    this._cancelPeerBack.set(
      id,
      this._scheduler.after(this._peerBackAfterMs, () => {
        this._cancelPeerBack.delete(id);
        const link = this._links.get(id);
        if (link !== undefined && isStuck(link)) {
          void link.recover();
        }
      })
    );
  }

  /** Messages to or from us may have been lost while the socket was down: unstick what is stuck. */
  private _scheduleRecover(): void {
    this._cancelRecover?.();
    this._cancelRecover = this._scheduler.after(this._recoverAfterMs, () => {
      this._cancelRecover = null;
      for (const link of this._links.values()) {
        if (isStuck(link)) {
          void link.recover();
        }
      }
    });
  }

  private readonly _port: ISignalingPort;
  private readonly _createPeer: PeerFactory<T, S>;
  private readonly _scheduler: Scheduler;
  private readonly _disconnectedTimeoutMs: number | undefined;
  private readonly _recoverAfterMs: number;
  private readonly _peerBackAfterMs: number;
  private readonly _presence = new Map<string, string>();
  private readonly _cancelPeerBack = new Map<string, Cancel>();
  private readonly _onError: ((error: unknown, context: string) => void) | undefined;
  private readonly _links = new Map<string, PeerLink<T, S>>();
  private readonly _roles = new Map<string, Role | null>();
  private _localId: string | null = null;
  private _myRole: Role | null = null;
  private _media: ILocalMedia<T, S> = { stream: null, audio: null, video: null };
  private _cancelRecover: Cancel | null = null;
  private _disposed = false;
  private readonly _linksChanged = new Signal<this, void>(this);
  private readonly _remoteTrack = new Signal<this, IMeshTrack<T, S>>(this);
  private readonly _peerStateChanged = new Signal<
    this,
    { participantId: string; state: IPeerState }
  >(this);
}
