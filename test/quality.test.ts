// The call-quality indicator (src/media/quality.ts): counters read from stats reports shaped like
// Chromium's, and good / fair / poor from RTT, loss and the connection state.
import { describe, expect, it } from '@jest/globals';

import {
  IStatsReportLike,
  IStatsSample,
  assessHealth,
  describeHealth,
  sampleFromReport
} from '../src/media/quality';

/** A report as `RTCPeerConnection.getStats()` gives it: a Map of stat objects by id. */
function report(stats: Array<Record<string, unknown>>): IStatsReportLike {
  return new Map(stats.map((s, i) => [String(s.id ?? i), s]));
}

function chromiumLike(options: {
  rtt: number;
  received: number;
  lost: number;
  bytesIn: number;
  bytesOut: number;
}): IStatsReportLike {
  return report([
    { id: 'T01', type: 'transport', selectedCandidatePairId: 'CP1' },
    { id: 'CP0', type: 'candidate-pair', state: 'failed', nominated: false, currentRoundTripTime: 3 },
    { id: 'CP1', type: 'candidate-pair', state: 'succeeded', nominated: true, currentRoundTripTime: options.rtt },
    { id: 'IA', type: 'inbound-rtp', kind: 'audio', packetsReceived: options.received / 2, packetsLost: options.lost / 2, bytesReceived: options.bytesIn / 4 },
    { id: 'IV', type: 'inbound-rtp', kind: 'video', packetsReceived: options.received / 2, packetsLost: options.lost / 2, bytesReceived: (3 * options.bytesIn) / 4 },
    { id: 'OV', type: 'outbound-rtp', kind: 'video', bytesSent: options.bytesOut },
    { id: 'RI', type: 'remote-inbound-rtp', kind: 'video', roundTripTime: 9 }
  ]);
}

const connected = { connection: 'connected', ice: 'connected' } as const;

describe('sampleFromReport', () => {
  it('takes the RTT of the selected candidate pair and sums inbound audio and video', () => {
    const sample = sampleFromReport(
      chromiumLike({ rtt: 0.042, received: 1000, lost: 10, bytesIn: 40_000, bytesOut: 30_000 }),
      5000
    );
    expect(sample).toEqual({
      at: 5000,
      rttMs: 42,
      packetsReceived: 1000,
      packetsLost: 10,
      bytesReceived: 40_000,
      bytesSent: 30_000
    });
  });

  it('falls back to the nominated pair, then to the remote-inbound estimate', () => {
    const nominated = report([
      { id: 'CP1', type: 'candidate-pair', state: 'succeeded', nominated: true, currentRoundTripTime: 0.1 }
    ]);
    expect(sampleFromReport(nominated, 0).rttMs).toBeCloseTo(100);
    const remoteOnly = report([{ id: 'RI', type: 'remote-inbound-rtp', roundTripTime: 0.3 }]);
    expect(sampleFromReport(remoteOnly, 0).rttMs).toBeCloseTo(300);
    expect(sampleFromReport(report([]), 0).rttMs).toBeNull();
  });

  it('ignores junk entries and negative loss (duplicates make packetsLost negative)', () => {
    const sample = sampleFromReport(
      report([
        { id: 'x', type: 'inbound-rtp', packetsReceived: 'many', packetsLost: -3, bytesReceived: NaN },
        { id: 'y', type: 'codec' }
      ]),
      0
    );
    expect(sample.packetsReceived).toBe(0);
    expect(sample.packetsLost).toBe(0);
    expect(sample.bytesReceived).toBe(0);
  });
});

function sample(at: number, rttMs: number | null, received: number, lost: number, bytes: number): IStatsSample {
  return { at, rttMs, packetsReceived: received, packetsLost: lost, bytesReceived: bytes, bytesSent: bytes };
}

describe('assessHealth', () => {
  it('is good on a healthy link and reports loss and bitrate between the two samples', () => {
    const health = assessHealth(sample(0, 20, 1000, 0, 0), sample(2000, 30, 1990, 10, 250_000), connected);
    expect(health.quality).toBe('good');
    expect(health.rttMs).toBe(30);
    expect(health.lossPct).toBeCloseTo(1);
    expect(health.inKbps).toBeCloseTo(1000);
  });

  it('is fair from 250 ms RTT or 2% loss, poor from 500 ms or 8%', () => {
    const base = sample(0, 10, 0, 0, 0);
    expect(assessHealth(base, sample(1000, 260, 100, 0, 1), connected).quality).toBe('fair');
    expect(assessHealth(base, sample(1000, 20, 97, 3, 1), connected).quality).toBe('fair');
    expect(assessHealth(base, sample(1000, 600, 100, 0, 1), connected).quality).toBe('poor');
    expect(assessHealth(base, sample(1000, 20, 90, 10, 1), connected).quality).toBe('poor');
  });

  it('is poor while the connection is disconnected or failed, whatever the numbers', () => {
    const a = sample(0, 10, 0, 0, 0);
    const b = sample(1000, 10, 100, 0, 1000);
    expect(assessHealth(a, b, { connection: 'disconnected', ice: 'disconnected' }).quality).toBe('poor');
    expect(assessHealth(a, b, { connection: 'failed', ice: 'failed' }).quality).toBe('poor');
    expect(assessHealth(a, b, { connection: 'connecting', ice: 'checking' }).quality).toBe('unknown');
  });

  it('is unknown with nothing measured, and restarts cleanly when counters go backwards', () => {
    expect(assessHealth(null, sample(0, null, 0, 0, 0), connected).quality).toBe('unknown');
    // An ICE restart brings a new transport: counters start again from zero.
    const health = assessHealth(sample(0, 20, 5000, 50, 900_000), sample(1000, 20, 10, 0, 1000), connected);
    expect(health.lossPct).toBeNull();
    expect(health.inKbps).toBeNull();
    expect(health.quality).toBe('good');
  });

  it('gives a tooltip with RTT, loss and bitrate', () => {
    const health = assessHealth(sample(0, 20, 1000, 0, 0), sample(1000, 42.4, 1100, 0, 100_000), connected);
    expect(describeHealth(health)).toBe('RTT 42 ms · loss 0.0% · 800 kbit/s in · 800 kbit/s out');
    expect(describeHealth(assessHealth(null, sample(0, null, 0, 0, 0)))).toBe('RTT – · loss – · – kbit/s in');
  });
});
