/**
 * A call leg's health from `RTCPeerConnection.getStats()`: two reports a few seconds apart give the
 * round-trip time, packet loss and bitrate, and from them one of good / fair / poor. Pure functions.
 */

import { IceConnectionStateName, PeerConnectionStateName } from './peer';

export type Quality = 'good' | 'fair' | 'poor' | 'unknown';

/** What `getStats()` resolves with; the browser's `RTCStatsReport` fits. */
export interface IStatsReportLike {
  forEach(callback: (stat: any) => void): void;
}

/** The counters of one report that the health needs, summed over audio and video. */
export interface IStatsSample {
  /** Local time of the report, ms. */
  readonly at: number;
  /** Round-trip time of the selected candidate pair (or the remote-inbound estimate), ms. */
  readonly rttMs: number | null;
  readonly packetsReceived: number;
  readonly packetsLost: number;
  readonly bytesReceived: number;
  readonly bytesSent: number;
}

export interface ILinkHealth {
  readonly quality: Quality;
  readonly rttMs: number | null;
  /** Packets lost between the two samples, percent of those expected. */
  readonly lossPct: number | null;
  /** Received bitrate between the two samples, kbit/s. */
  readonly inKbps: number | null;
  readonly outKbps: number | null;
}

/** Thresholds: at or above `fair` the leg is fair, at or above `poor` it is poor. */
export const RTT_MS = { fair: 250, poor: 500 };
export const LOSS_PCT = { fair: 2, poor: 8 };

export const UNKNOWN_HEALTH: ILinkHealth = {
  quality: 'unknown',
  rttMs: null,
  lossPct: null,
  inKbps: null,
  outKbps: null
};

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Reads the counters out of one stats report taken at local time `at` (ms). */
export function sampleFromReport(report: IStatsReportLike, at: number): IStatsSample {
  let pairRtt: number | null = null;
  let remoteRtt: number | null = null;
  let selectedPair: string | null = null;
  const pairs = new Map<string, number | null>();
  let packetsReceived = 0;
  let packetsLost = 0;
  let bytesReceived = 0;
  let bytesSent = 0;
  report.forEach(stat => {
    if (typeof stat !== 'object' || stat === null) {
      return;
    }
    switch (stat.type) {
      case 'transport':
        if (typeof stat.selectedCandidatePairId === 'string') {
          selectedPair = stat.selectedCandidatePairId;
        }
        break;
      case 'candidate-pair': {
        const rtt = num(stat.currentRoundTripTime);
        pairs.set(String(stat.id), rtt);
        // Without a transport stat (older browsers), the nominated succeeded pair is the one in use.
        if (stat.nominated === true && stat.state === 'succeeded' && rtt !== null) {
          pairRtt = rtt;
        }
        break;
      }
      case 'remote-inbound-rtp': {
        const rtt = num(stat.roundTripTime);
        if (rtt !== null) {
          remoteRtt = Math.max(remoteRtt ?? 0, rtt);
        }
        break;
      }
      case 'inbound-rtp':
        packetsReceived += num(stat.packetsReceived) ?? 0;
        packetsLost += Math.max(0, num(stat.packetsLost) ?? 0);
        bytesReceived += num(stat.bytesReceived) ?? 0;
        break;
      case 'outbound-rtp':
        bytesSent += num(stat.bytesSent) ?? 0;
        break;
      default:
        break;
    }
  });
  if (selectedPair !== null && pairs.has(selectedPair)) {
    pairRtt = pairs.get(selectedPair) ?? pairRtt;
  }
  const rtt: number | null = pairRtt ?? remoteRtt;
  return {
    at,
    rttMs: rtt === null ? null : rtt * 1000,
    packetsReceived,
    packetsLost,
    bytesReceived,
    bytesSent
  };
}

/** Whether the connection states leave room for a measurement at all. */
function connectionQuality(
  connection: PeerConnectionStateName | undefined,
  ice: IceConnectionStateName | undefined
): Quality | null {
  if (connection === 'failed' || connection === 'disconnected' || ice === 'failed') {
    return 'poor';
  }
  if (ice === 'disconnected') {
    return 'poor';
  }
  if (connection === 'connected' || ice === 'connected' || ice === 'completed') {
    return null;
  }
  return 'unknown';
}

/**
 * The health between two samples of the same leg (`previous` may be null for the first one).
 * Counters that went backwards (a new transport after an ICE restart) count as a fresh start.
 */
export function assessHealth(
  previous: IStatsSample | null,
  current: IStatsSample,
  state: { connection?: PeerConnectionStateName; ice?: IceConnectionStateName } = {}
): ILinkHealth {
  const rttMs = current.rttMs;
  let lossPct: number | null = null;
  let inKbps: number | null = null;
  let outKbps: number | null = null;
  if (previous !== null && current.at > previous.at) {
    const seconds = (current.at - previous.at) / 1000;
    const received = current.packetsReceived - previous.packetsReceived;
    const lost = current.packetsLost - previous.packetsLost;
    if (received >= 0 && lost >= 0 && received + lost > 0) {
      lossPct = (100 * lost) / (received + lost);
    } else if (received >= 0 && lost >= 0) {
      lossPct = 0;
    }
    const inBytes = current.bytesReceived - previous.bytesReceived;
    const outBytes = current.bytesSent - previous.bytesSent;
    inKbps = inBytes >= 0 ? (inBytes * 8) / 1000 / seconds : null;
    outKbps = outBytes >= 0 ? (outBytes * 8) / 1000 / seconds : null;
  }
  const fromState = connectionQuality(state.connection, state.ice);
  let quality: Quality;
  if (fromState !== null) {
    quality = fromState;
  } else if (rttMs === null && lossPct === null) {
    quality = 'unknown';
  } else if ((rttMs ?? 0) >= RTT_MS.poor || (lossPct ?? 0) >= LOSS_PCT.poor) {
    quality = 'poor';
  } else if ((rttMs ?? 0) >= RTT_MS.fair || (lossPct ?? 0) >= LOSS_PCT.fair) {
    quality = 'fair';
  } else {
    quality = 'good';
  }
  return { quality, rttMs, lossPct, inKbps, outKbps };
}

/** A one-line summary for a tooltip: `RTT 42 ms · loss 0.5% · 812 kbit/s in`. */
export function describeHealth(health: ILinkHealth): string {
  const parts: string[] = [];
  parts.push(health.rttMs === null ? 'RTT –' : `RTT ${Math.round(health.rttMs)} ms`);
  parts.push(health.lossPct === null ? 'loss –' : `loss ${health.lossPct.toFixed(1)}%`);
  parts.push(health.inKbps === null ? '– kbit/s in' : `${Math.round(health.inKbps)} kbit/s in`);
  if (health.outKbps !== null) {
    parts.push(`${Math.round(health.outKbps)} kbit/s out`);
  }
  return parts.join(' · ');
}
