/**
 * The browser's WebRTC objects behind the media layer's interfaces. This file compiling is the
 * proof that `RTCPeerConnection` fits `PeerConnectionLike`.
 */

import { PeerConnectionLike, PeerFactory } from './peer';
import { IIceServers, rtcConfiguration } from './ice';

export type BrowserPeer = PeerConnectionLike<MediaStreamTrack, MediaStream>;

/** One `RTCPeerConnection` per remote participant, configured with the room's ICE servers. */
export function browserPeerFactory(
  ice: IIceServers | null
): PeerFactory<MediaStreamTrack, MediaStream> {
  const configuration: RTCConfiguration = ice === null ? {} : rtcConfiguration(ice);
  return (): BrowserPeer => new RTCPeerConnection(configuration);
}
