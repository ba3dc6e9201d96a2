/**
 * One call leg: the peer connection to one remote participant, negotiated with the
 * perfect-negotiation pattern over the room socket, with trickled ICE, ICE restarts and
 * renegotiation-free video swaps.
 */

import { ISignal, Signal } from '@lumino/signaling';

import {
  IceCandidatePayload,
  IceRestartPayload,
  SdpAnswerPayload,
  SdpOfferPayload
} from '../signaling/events';
import { Cancel, Scheduler, realScheduler } from '../signaling/runtime';
import {
  IceCandidateInitLike,
  IceCandidateLike,
  IceConnectionStateName,
  PeerConnectionLike,
  PeerConnectionStateName,
  SenderLike,
  SignalingStateName,
  TrackLike
} from './peer';

/** The signaling messages of one call leg, both ways; `to`/`from` are the mesh's business. */
export type SignalMessage =
  | { type: 'sdp-offer'; payload: SdpOfferPayload }
  | { type: 'sdp-answer'; payload: SdpAnswerPayload }
  | { type: 'ice-candidate'; payload: IceCandidatePayload }
  | { type: 'ice-restart'; payload: IceRestartPayload };

export interface IPeerState {
  readonly signaling: SignalingStateName;
  readonly ice: IceConnectionStateName;
  readonly connection: PeerConnectionStateName;
}

export interface IRemoteTrack<T, S> {
  readonly track: T;
  readonly streams: ReadonlyArray<S>;
}

/** Counters for tests, logs and the health view. */
export interface INegotiationStats {
  offersSent: number;
  answersSent: number;
  /** Remote offers this (impolite) side ignored because they collided with its own. */
  offersIgnored: number;
  /** Remote offers this (polite) side accepted over its own pending offer. */
  offersAcceptedInGlare: number;
  iceRestarts: number;
  candidatesSent: number;
  /** Candidates of an ICE generation the remote description no longer has, skipped. */
  staleCandidates: number;
  /** Errors that were reported (not the candidate errors of ignored offers). */
  errors: number;
}

export interface IPeerLinkOptions<T extends TrackLike, S> {
  /** Our participant id and theirs: comparing them decides who is polite. */
  localId: string;
  remoteId: string;
  pc: PeerConnectionLike<T, S>;
  /** Sends one message to the remote participant over the room socket. */
  send: (message: SignalMessage) => void;
  scheduler?: Scheduler;
  /** ICE that stays `disconnected` this long is restarted, ms (default 3000). */
  disconnectedTimeoutMs?: number;
  /** Where errors go (default: console.warn). */
  onError?: (error: unknown, context: string) => void;
}

/** The ICE usernames (`a=ice-ufrag:`) of an SDP, session-level and per m-line. */
export function iceUfrags(sdp: string): string[] {
  const found = new Set<string>();
  for (const match of sdp.matchAll(/^a=ice-ufrag:(\S+)/gm)) {
    found.add(match[1]);
  }
  return [...found];
}

/**
 * Who yields in a glare: the side with the smaller participant id is polite. Any rule that both
 * sides compute the same way, and that makes exactly one of them polite, works.
 */
export function isPolite(localId: string, remoteId: string): boolean {
  return localId < remoteId;
}

/**
 * The perfect-negotiation pattern (W3C webrtc-pc, "Perfect negotiation example"): either side may
 * offer whenever it needs to; when both offer at once the impolite side ignores the other's offer
 * and the polite side drops its own (setRemoteDescription rolls it back implicitly) and answers.
 *
 * Incoming messages are handled one at a time, in order, so that an ICE candidate is never applied
 * before the description it belongs to.
 */
export class PeerLink<T extends TrackLike, S> {
  constructor(options: IPeerLinkOptions<T, S>) {
    this.localId = options.localId;
    this.remoteId = options.remoteId;
    this.polite = isPolite(options.localId, options.remoteId);
    this.pc = options.pc;
    this._send = options.send;
    this._scheduler = options.scheduler ?? realScheduler;
    this._disconnectedTimeoutMs = options.disconnectedTimeoutMs ?? 3000;
    this._onError =
      options.onError ??
      ((error, context) =>
        console.warn(`jupyter-interview: call with ${this.remoteId}: ${context}`, error));

    const pc = this.pc;
    pc.onnegotiationneeded = () => {
      void this._negotiate();
    };
    pc.onicecandidate = event => this._sendCandidate(event.candidate);
    pc.ontrack = event => {
      this._remoteTrack.emit({ track: event.track, streams: event.streams });
    };
    pc.oniceconnectionstatechange = () => this._iceChanged();
    pc.onconnectionstatechange = () => this._emitState();
    pc.onsignalingstatechange = () => this._emitState();
  }

  readonly localId: string;
  readonly remoteId: string;
  readonly polite: boolean;
  readonly pc: PeerConnectionLike<T, S>;

  get stats(): Readonly<INegotiationStats> {
    return this._stats;
  }

  get state(): IPeerState {
    return {
      signaling: this.pc.signalingState,
      ice: this.pc.iceConnectionState,
      connection: this.pc.connectionState
    };
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  get stateChanged(): ISignal<this, IPeerState> {
    return this._stateChanged;
  }

  get remoteTrack(): ISignal<this, IRemoteTrack<T, S>> {
    return this._remoteTrack;
  }

  /** The sender of each kind we added, if any. */
  sender(kind: 'audio' | 'video'): SenderLike<T> | null {
    return this._senders.get(kind) ?? null;
  }

  /** Start sending a track (this renegotiates; later swaps of the same kind do not). */
  addTrack(track: T, ...streams: S[]): SenderLike<T> {
    const sender = this.pc.addTrack(track, ...streams);
    if (track.kind === 'audio' || track.kind === 'video') {
      this._senders.set(track.kind, sender);
    }
    return sender;
  }

  /**
   * Send `track` (screen, another camera, or nothing) instead of the current video, with
   * `RTCRtpSender.replaceTrack`: the SDP does not change, so there is no renegotiation and the
   * remote side keeps the same receiving track. Only when there is no video sender yet (we joined
   * without a camera) is the track added, which renegotiates once.
   */
  async swapVideo(track: T | null, ...streams: S[]): Promise<'replaced' | 'added' | 'none'> {
    const sender = this._senders.get('video');
    if (sender !== undefined) {
      await sender.replaceTrack(track);
      return 'replaced';
    }
    if (track === null) {
      return 'none';
    }
    this.addTrack(track, ...streams);
    return 'added';
  }

  /** A signaling message from the remote participant. Resolves when it has been applied. */
  handle(message: SignalMessage): Promise<void> {
    const next = this._inbox.then(() => this._handle(message));
    this._inbox = next.catch(error => {
      this._stats.errors++;
      this._onError(error, `applying ${message.type}`);
    });
    return this._inbox;
  }

  /** Restart ICE: new credentials, gathered afresh, through a new offer. */
  restartIce(reason: string): void {
    if (this._disposed || this.pc.signalingState === 'closed') {
      return;
    }
    this._stats.iceRestarts++;
    this._lastRestartReason = reason;
    this.pc.restartIce();
  }

  /** Why ICE was last restarted. */
  get lastRestartReason(): string | null {
    return this._lastRestartReason;
  }

  /**
   * After a signaling outage in which messages may have been lost: drop an offer that is still
   * waiting for its answer (negotiationneeded then fires again and a fresh offer goes out), and
   * restart ICE if the connection is not up.
   */
  async recover(): Promise<void> {
    if (this._disposed) {
      return;
    }
    if (this.pc.signalingState === 'have-local-offer') {
      try {
        await this.pc.setLocalDescription({ type: 'rollback' });
      } catch (error) {
        this._report(error, 'rolling back an unanswered offer');
      }
    }
    const ice = this.pc.iceConnectionState;
    if (ice !== 'connected' && ice !== 'completed' && ice !== 'new') {
      this.restartIce('signaling recovered');
    }
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._cancelDisconnected?.();
    this._cancelDisconnected = null;
    const pc = this.pc;
    pc.onnegotiationneeded = null;
    pc.onicecandidate = null;
    pc.ontrack = null;
    pc.oniceconnectionstatechange = null;
    pc.onconnectionstatechange = null;
    pc.onsignalingstatechange = null;
    pc.close();
    Signal.clearData(this);
  }

  private async _negotiate(): Promise<void> {
    if (this._disposed) {
      return;
    }
    try {
      this._makingOffer = true;
      // Without an argument the browser creates the right description for the state: an offer.
      await this.pc.setLocalDescription();
      const description = this.pc.localDescription;
      if (description !== null && description.type === 'offer' && !this._disposed) {
        this._stats.offersSent++;
        this._send({ type: 'sdp-offer', payload: { type: 'offer', sdp: description.sdp } });
      }
    } catch (error) {
      this._report(error, 'making an offer');
    } finally {
      this._makingOffer = false;
    }
  }

  private async _handle(message: SignalMessage): Promise<void> {
    if (this._disposed) {
      return;
    }
    switch (message.type) {
      case 'sdp-offer':
        await this._description('offer', message.payload.sdp);
        return;
      case 'sdp-answer':
        await this._description('answer', message.payload.sdp);
        return;
      case 'ice-candidate':
        await this._candidate(message.payload);
        return;
      case 'ice-restart':
        this.restartIce(message.payload.reason ?? 'asked by the other side');
        return;
    }
  }

  private async _description(type: 'offer' | 'answer', sdp: string): Promise<void> {
    const pc = this.pc;
    const readyForOffer =
      !this._makingOffer && (pc.signalingState === 'stable' || this._isSettingRemoteAnswerPending);
    const offerCollision = type === 'offer' && !readyForOffer;
    this._ignoreOffer = !this.polite && offerCollision;
    if (this._ignoreOffer) {
      this._stats.offersIgnored++;
      return;
    }
    if (offerCollision) {
      this._stats.offersAcceptedInGlare++;
    }
    this._isSettingRemoteAnswerPending = type === 'answer';
    try {
      // On the polite side in a glare this rolls our own offer back first.
      await pc.setRemoteDescription({ type, sdp });
    } finally {
      this._isSettingRemoteAnswerPending = false;
    }
    if (type === 'offer') {
      await pc.setLocalDescription();
      const answer = pc.localDescription;
      if (answer !== null && answer.type === 'answer' && !this._disposed) {
        this._stats.answersSent++;
        this._send({ type: 'sdp-answer', payload: { type: 'answer', sdp: answer.sdp } });
      }
    }
  }

  private async _candidate(payload: IceCandidatePayload): Promise<void> {
    const remote = this.pc.remoteDescription;
    const frag = payload.usernameFragment;
    if (typeof frag === 'string' && frag !== '' && remote !== null) {
      const current = iceUfrags(remote.sdp);
      if (current.length > 0 && !current.includes(frag)) {
        // A late candidate of the ICE generation before a restart: nothing to do with it.
        this._stats.staleCandidates++;
        return;
      }
    }
    const init: IceCandidateInitLike = { candidate: payload.candidate };
    if (payload.sdpMid !== undefined) {
      init.sdpMid = payload.sdpMid;
    }
    if (payload.sdpMLineIndex !== undefined) {
      init.sdpMLineIndex = payload.sdpMLineIndex;
    }
    if (payload.usernameFragment !== undefined) {
      init.usernameFragment = payload.usernameFragment;
    }
    try {
      await this.pc.addIceCandidate(init);
    } catch (error) {
      // Candidates of an offer we ignored, and end-of-candidates (which some browsers refuse
      // without an m-line), are expected to fail; anything else is worth a report.
      if (!this._ignoreOffer && payload.candidate !== '') {
        this._report(error, 'adding an ICE candidate');
      }
    }
  }

  private _sendCandidate(candidate: IceCandidateLike | null): void {
    if (this._disposed) {
      return;
    }
    // The schema needs a string: end-of-candidates (a null candidate) travels as ''.
    const payload: IceCandidatePayload =
      candidate === null
        ? { candidate: '' }
        : {
            candidate: candidate.candidate,
            sdpMid: candidate.sdpMid,
            sdpMLineIndex: candidate.sdpMLineIndex,
            usernameFragment: candidate.usernameFragment
          };
    this._stats.candidatesSent++;
    this._send({ type: 'ice-candidate', payload });
  }

  private _iceChanged(): void {
    if (this._disposed) {
      return;
    }
    const ice = this.pc.iceConnectionState;
    if (ice === 'failed') {
      this._cancelDisconnected?.();
      this._cancelDisconnected = null;
      this.restartIce('ICE failed');
    } else if (ice === 'disconnected') {
      this._armDisconnected();
    } else {
      this._cancelDisconnected?.();
      this._cancelDisconnected = null;
    }
    this._emitState();
  }

  /** A disconnection often heals by itself; restart only when it lasts, and again while it does. */
  private _armDisconnected(): void {
    if (this._cancelDisconnected !== null) {
      return;
    }
    this._cancelDisconnected = this._scheduler.after(this._disconnectedTimeoutMs, () => {
      this._cancelDisconnected = null;
      if (!this._disposed && this.pc.iceConnectionState === 'disconnected') {
        this.restartIce(`ICE disconnected for ${this._disconnectedTimeoutMs / 1000} s`);
        this._armDisconnected();
      }
    });
  }

  private _emitState(): void {
    if (!this._disposed) {
      this._stateChanged.emit(this.state);
    }
  }

  private _report(error: unknown, context: string): void {
    this._stats.errors++;
    this._onError(error, context);
  }

  private readonly _send: (message: SignalMessage) => void;
  private readonly _scheduler: Scheduler;
  private readonly _disconnectedTimeoutMs: number;
  private readonly _onError: (error: unknown, context: string) => void;
  private readonly _senders = new Map<'audio' | 'video', SenderLike<T>>();
  private readonly _stats: INegotiationStats = {
    offersSent: 0,
    answersSent: 0,
    offersIgnored: 0,
    offersAcceptedInGlare: 0,
    iceRestarts: 0,
    candidatesSent: 0,
    staleCandidates: 0,
    errors: 0
  };
  private _inbox: Promise<void> = Promise.resolve();
  private _makingOffer = false;
  private _ignoreOffer = false;
  private _isSettingRemoteAnswerPending = false;
  private _cancelDisconnected: Cancel | null = null;
  private _lastRestartReason: string | null = null;
  private _disposed = false;
  private readonly _stateChanged = new Signal<this, IPeerState>(this);
  private readonly _remoteTrack = new Signal<this, IRemoteTrack<T, S>>(this);
}
