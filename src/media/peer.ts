/**
 * The part of `RTCPeerConnection` the media layer uses, as an interface: the browser's objects fit
 * it (see browser.ts), and the unit tests drive a fake that models its state machine.
 */

import { Handler } from '../signaling/runtime';

export type SignalingStateName =
  | 'stable'
  | 'have-local-offer'
  | 'have-remote-offer'
  | 'have-local-pranswer'
  | 'have-remote-pranswer'
  | 'closed';

export type IceConnectionStateName =
  'new' | 'checking' | 'connected' | 'completed' | 'disconnected' | 'failed' | 'closed';

export type PeerConnectionStateName =
  'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export type SdpTypeName = 'offer' | 'answer' | 'pranswer' | 'rollback';

/** A media track: only its kind matters here (`MediaStreamTrack` fits). */
export interface TrackLike {
  readonly kind: string;
}

export interface SessionDescriptionInitLike {
  type?: SdpTypeName;
  sdp?: string;
}

export interface SessionDescriptionLike {
  readonly type: SdpTypeName;
  readonly sdp: string;
}

export interface IceCandidateInitLike {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface IceCandidateLike {
  readonly candidate: string;
  readonly sdpMid: string | null;
  readonly sdpMLineIndex: number | null;
  readonly usernameFragment: string | null;
}

/** `RTCRtpSender`: what is sent on one transceiver, swappable without renegotiation. */
export interface SenderLike<T extends TrackLike> {
  readonly track: T | null;
  replaceTrack(track: T | null): Promise<void>;
}

/** `RTCPeerConnection` over tracks `T` and streams `S`. */
export interface PeerConnectionLike<T extends TrackLike, S> {
  readonly signalingState: SignalingStateName;
  readonly iceConnectionState: IceConnectionStateName;
  readonly connectionState: PeerConnectionStateName;
  readonly localDescription: SessionDescriptionLike | null;
  readonly remoteDescription: SessionDescriptionLike | null;

  onnegotiationneeded: Handler<unknown> | null;
  onicecandidate: Handler<{ readonly candidate: IceCandidateLike | null }> | null;
  ontrack: Handler<{ readonly track: T; readonly streams: ReadonlyArray<S> }> | null;
  oniceconnectionstatechange: Handler<unknown> | null;
  onconnectionstatechange: Handler<unknown> | null;
  onsignalingstatechange: Handler<unknown> | null;

  setLocalDescription(description?: SessionDescriptionInitLike): Promise<void>;
  setRemoteDescription(description: SessionDescriptionInitLike): Promise<void>;
  addIceCandidate(candidate?: IceCandidateInitLike): Promise<void>;
  addTrack(track: T, ...streams: S[]): SenderLike<T>;
  /** Receive a kind we do not send (no camera, no microphone); optional for fakes. */
  addTransceiver?(kind: 'audio' | 'video', init: { direction: 'recvonly' }): unknown;
  restartIce(): void;
  close(): void;
}

/** Makes the connection to one remote participant. */
export type PeerFactory<T extends TrackLike, S> = (remoteId: string) => PeerConnectionLike<T, S>;
