// Checks the harness itself, without the product's UI: two browsers send the fake camera to each
// other through coturn over TCP (relay-only; the "candidate" through the severable TURN proxy), and
// the candidate's HTTP goes through the severable HTTP proxy. A cut must stop the candidate's media
// and HTTP, and a restore (with an ICE restart) must bring them back. Without this, a reconnect test
// could pass with a cut that cuts nothing.

import {
  bytesSince,
  closeParticipant,
  deadline,
  launchParticipant,
  log,
  mediaStats,
  readConfig,
  sleep,
  stackProxies,
  until,
  videoFlowing
} from './lib.mjs';

const config = await readConfig();
const result = { steps: [] };
const { http, turn } = stackProxies(config);
const proxies = [http, turn];
const people = [];
const cleanup = async () => {
  for (const p of people) {
    await closeParticipant(p);
  }
  for (const proxy of proxies) {
    await proxy.close();
  }
};
deadline(90000, result, cleanup);

async function connectPeers(a, b, restart) {
  const offer = await a.page.evaluate(async restart => {
    const pc = window.__pc;
    const offer = await pc.createOffer({ iceRestart: restart });
    await pc.setLocalDescription(offer);
    await new Promise(resolve => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 5000);
    });
    return pc.localDescription.toJSON();
  }, restart);
  const answer = await b.page.evaluate(async offer => {
    const pc = window.__pc;
    await pc.setRemoteDescription(offer);
    await pc.setLocalDescription(await pc.createAnswer());
    await new Promise(resolve => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 5000);
    });
    return pc.localDescription.toJSON();
  }, offer);
  await a.page.evaluate(answer => window.__pc.setRemoteDescription(answer), answer);
  return { offerRelays: (offer.sdp.match(/typ relay/g) ?? []).length };
}

try {
  for (const proxy of proxies) {
    await proxy.start();
  }
  const base = config.baseUrl;
  const sides = [
    ['interviewer', config.serverPort, config.turnPort],
    ['candidate', config.httpProxyPort, config.turnProxyPort]
  ];
  for (const [name, httpPort, turnPort] of sides) {
    const p = await launchParticipant(config, name);
    people.push(p);
    // A page of the server's origin (a loopback http origin is a secure context for media) whose
    // Content-Security-Policy lets it fetch (the API's JSON answers forbid every fetch).
    await p.page.goto(`http://127.0.0.1:${httpPort}${base}login`);
    await p.page.evaluate(
      async ({ turnPort, ice }) => {
        const pc = new RTCPeerConnection({
          iceServers: [{ urls: [`turn:127.0.0.1:${turnPort}?transport=tcp`], ...ice }],
          iceTransportPolicy: 'relay'
        });
        window.__pc = pc;
        const stream = await navigator.mediaDevices.getUserMedia({ video: true });
        for (const track of stream.getTracks()) pc.addTrack(track, stream);
      },
      { turnPort, ice: config.ice }
    );
  }
  const [interviewer, candidate] = people;
  const t0 = Date.now();
  const sdp = await connectPeers(candidate, interviewer, false);
  await videoFlowing(candidate.page, 15000);
  await videoFlowing(interviewer.page, 15000);
  result.connectMs = Date.now() - t0;
  result.offerRelays = sdp.offerRelays;
  result.before = await mediaStats(candidate.page);
  result.turnProxyAccepted = turn.accepted;
  log('media flows both ways in', result.connectMs, 'ms; candidate path', result.before.localTypes.join(','));

  await Promise.all(proxies.map(p => p.sever()));
  const cutAt = Date.now();
  await sleep(1500); // packets already in the pipeline drain
  const a = await mediaStats(candidate.page);
  await sleep(2500);
  const b = await mediaStats(candidate.page);
  result.bytesDuringCut = bytesSince(a, b);
  result.httpDuringCut = await candidate.page.evaluate(async url => {
    try {
      const r = await fetch(url, { cache: 'no-store' });
      return `status ${r.status}`;
    } catch (e) {
      return `failed: ${e.message}`;
    }
  }, `${base}api/status`);
  await sleep(Math.max(0, 5000 - (Date.now() - cutAt)));
  await Promise.all(proxies.map(p => p.restore()));
  const restoredAt = Date.now();
  await connectPeers(candidate, interviewer, true);
  const flowingAt = await videoFlowing(candidate.page, 15000);
  result.recoveredMs = flowingAt - restoredAt;
  result.httpAfter = await candidate.page.evaluate(async url => {
    const tries = [];
    for (let i = 0; i < 5; i++) {
      try {
        tries.push((await fetch(url, { cache: 'no-store' })).status);
        break;
      } catch (e) {
        tries.push(e.message);
        await new Promise(r => setTimeout(r, 200));
      }
    }
    return tries;
  }, `${base}api/status`);
  result.after = await mediaStats(candidate.page);
  log('cut: candidate got', result.bytesDuringCut, 'B; fetch', result.httpDuringCut, '; video back', result.recoveredMs, 'ms after restore');
  result.ok = true;
  result.console = candidate.console;
} catch (e) {
  result.error = String(e?.stack ?? e);
  log('error:', result.error);
} finally {
  await cleanup();
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
