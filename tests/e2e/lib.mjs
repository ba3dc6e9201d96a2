// Browser side of the end-to-end tests and the UI benchmark: Chromium with fake media, severable
// loopback proxies, and in-page probes (peer connections, first-seen times, first video frames).
//
// Runners read one JSON config on stdin (tests/e2e/stack.py writes it), log steps on stderr and
// print one JSON object as their last stdout line.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream'
];

const started = Date.now();

export function log(...parts) {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${s}s] ${parts.join(' ')}\n`);
}

export function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

export async function readConfig() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** Polls fn until it returns a truthy value; throws naming what was awaited after timeoutMs. */
export async function until(what, fn, timeoutMs = 10000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) {
        return last;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? `: ${last.message}` : last === undefined ? '' : `: last ${JSON.stringify(last)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(everyMs);
  }
}

/**
 * A loopback TCP proxy the test can sever: `sever()` resets every open connection and stops
 * listening (new connections are refused) until `restore()` listens on the same port again.
 */
export class CutProxy {
  constructor(name, listenPort, targetPort) {
    this.name = name;
    this.listenPort = listenPort;
    this.targetPort = targetPort;
    this.sockets = new Set();
    this.server = null;
    this.accepted = 0;
    this.bytes = 0;
  }

  async start() {
    const server = net.createServer({ noDelay: true }, client => this._pipe(client));
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  _pipe(client) {
    this.accepted += 1;
    const upstream = net.connect({ port: this.targetPort, host: '127.0.0.1', noDelay: true });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    client.on('data', d => {
      this.bytes += d.length;
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async sever() {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise(resolve => server.close(resolve)) : Promise.resolve();
    for (const s of [...this.sockets]) {
      if (typeof s.resetAndDestroy === 'function') {
        s.resetAndDestroy();
      } else {
        s.destroy();
      }
    }
    await closed;
  }

  async restore() {
    await this.start();
  }

  async close() {
    await this.sever();
  }
}

/**
 * The candidate's two paths through stack.py's stack, each a CutProxy: HTTP and websockets to the
 * server (`http`), TCP to coturn (`turn`). Call `start()` on each before use.
 */
export function stackProxies(config) {
  return {
    http: new CutProxy('http', config.httpProxyPort, config.serverPort),
    turn: new CutProxy('turn', config.turnProxyPort, config.turnPort)
  };
}

/** Runs in every page before its scripts: keeps the page's peer connections and first-seen times. */
function probe() {
  const e2e = { marks: {}, peers: [], offline: [] };
  Object.defineProperty(window, '__e2e', { value: e2e });
  const now = () => performance.timeOrigin + performance.now();
  const Original = window.RTCPeerConnection;
  if (Original) {
    // A subclass: instanceof and the prototype stay those of the browser.
    e2e.pcTrace = [];
    window.RTCPeerConnection = class extends Original {
      constructor(...args) {
        super(...args);
        const i = e2e.peers.push(this) - 1;
        const note = what => {
          if (e2e.pcTrace.length < 400) {
            e2e.pcTrace.push([Math.round(now()), i, what, this.connectionState, this.iceConnectionState, this.signalingState]);
          }
        };
        note('created');
        for (const event of ['connectionstatechange', 'iceconnectionstatechange', 'signalingstatechange']) {
          this.addEventListener(event, () => note(event.replace('statechange', '')));
        }
      }
    };
  }
  const selectors = {
    panel: '[data-testid="ji-panel"]',
    deviceCheck: '[data-testid="ji-device-check"]',
    waitingRoom: '[data-testid="ji-waiting-room"]',
    notebookCell: '.jp-NotebookPanel .jp-CodeCell .cm-content',
    labShell: '.jp-LabShell',
    remoteVideo: '[data-testid="ji-video-remote"]'
  };
  const framed = new WeakSet();
  const check = () => {
    for (const [name, selector] of Object.entries(selectors)) {
      if (name !== 'remoteVideo' && e2e.marks[name] !== undefined) {
        continue;
      }
      const found = document.querySelectorAll(selector);
      if (found.length === 0) {
        continue;
      }
      if (e2e.marks[name] === undefined) {
        e2e.marks[name] = now();
      }
      if (name === 'remoteVideo') {
        for (const video of found) {
          if (framed.has(video) || typeof video.requestVideoFrameCallback !== 'function') {
            continue;
          }
          framed.add(video);
          video.requestVideoFrameCallback(() => {
            if (e2e.marks.firstRemoteFrame === undefined) {
              e2e.marks.firstRemoteFrame = now();
              e2e.marks.firstRemoteFrameWidth = video.videoWidth;
            }
          });
        }
      }
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
  // When the page itself handled the Join click (the automation's click can wait on a busy page).
  document.addEventListener(
    'click',
    event => {
      if (e2e.marks.joinHandled === undefined && event.target?.closest?.('[data-testid="ji-join"]')) {
        e2e.marks.joinHandled = now();
      }
    },
    true
  );
}

/** A browser of its own (fresh user-data-dir) for one participant, with the probe installed. */
export async function launchParticipant(config, name, options = {}) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), `ji-e2e-${name}-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: config.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 860 },
    ignoreHTTPSErrors: false,
    ...options
  });
  await context.addInitScript(probe);
  const page = context.pages()[0] ?? (await context.newPage());
  const participant = { name, context, page, userDataDir, sentOffers: [], console: [], signals: [] };
  // The room socket's call signaling and presence, both ways, for the record of a failure.
  const traced = new Set(['sdp-offer', 'sdp-answer', 'ice-restart', 'presence', 'welcome', 'hello', 'user-joined', 'user-left']);
  const trace = (direction, payload) => {
    try {
      const m = JSON.parse(String(payload));
      if (m.type === 'sdp-offer' && direction === 'sent') {
        participant.sentOffers.push(Date.now());
      }
      if (traced.has(m.type) && participant.signals.length < 400) {
        const detail = m.type === 'presence' ? m.payload?.status : m.to ?? m.from ?? '';
        participant.signals.push([Date.now(), direction, m.type, detail]);
      }
    } catch {
      // not JSON: not ours
    }
  };
  page.on('websocket', ws => {
    if (!/\/interview\/api\/rooms\/[^/]+\/ws/.test(ws.url())) {
      return;
    }
    participant.signals.push([Date.now(), 'open', ws.url().slice(-12), '']);
    ws.on('framesent', frame => trace('sent', frame.payload));
    ws.on('framereceived', frame => trace('got', frame.payload));
    ws.on('close', () => participant.signals.push([Date.now(), 'close', '', '']));
  });
  page.on('console', msg => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      participant.console.push(`${msg.type()}: ${msg.text()}`.slice(0, 500));
    }
  });
  page.on('requestfailed', r =>
    participant.console.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`.slice(0, 500))
  );
  page.on('pageerror', err => participant.console.push(`pageerror: ${err.message}`.slice(0, 500)));
  return participant;
}

export async function closeParticipant(p) {
  try {
    await p.context.close();
  } catch {
    // already gone
  }
  fs.rmSync(p.userDataDir, { recursive: true, force: true });
}

/**
 * Points this participant's copy of the server's ICE settings at another TURN port: the server
 * names the candidate's severable proxy, and the interviewer's path must not cross it.
 */
export async function rewriteTurnPort(p, fromPort, toPort) {
  await p.context.route(/\/interview\/api\/rooms\/[^/]+\/ice-servers/, async route => {
    const response = await route.fetch();
    const body = (await response.text()).split(`:${fromPort}?`).join(`:${toPort}?`);
    await route.fulfill({ response, body });
  });
}

export const tid = id => `[data-testid="${id}"]`;

/**
 * Video counters and the selected ICE path of the page's live peer connections: totals, and per
 * inbound stream (`byStream["<i>/<ssrc>"]`, i the i-th connection the page made), since
 * connections get replaced and a renegotiation can bring new SSRCs, whose counters start at 0.
 */
export async function mediaStats(page) {
  return page.evaluate(async () => {
    const out = { bytesReceived: 0, framesDecoded: 0, bytesSent: 0, peers: 0, localTypes: [], states: [], byStream: {} };
    for (const [i, pc] of window.__e2e.peers.entries()) {
      out.states.push(`${pc.connectionState}/${pc.iceConnectionState}/${pc.signalingState}`);
      if (pc.connectionState === 'closed') {
        continue;
      }
      out.peers += 1;
      const report = await pc.getStats();
      const byId = new Map();
      report.forEach(r => byId.set(r.id, r));
      report.forEach(r => {
        if (r.type === 'inbound-rtp' && r.kind === 'video') {
          const stream = { bytesReceived: r.bytesReceived ?? 0, framesDecoded: r.framesDecoded ?? 0 };
          out.byStream[`${i}/${r.ssrc}`] = stream;
          out.bytesReceived += stream.bytesReceived;
          out.framesDecoded += stream.framesDecoded;
        } else if (r.type === 'outbound-rtp' && r.kind === 'video') {
          out.bytesSent += r.bytesSent ?? 0;
        } else if (r.type === 'transport' && r.selectedCandidatePairId) {
          const pair = byId.get(r.selectedCandidatePairId);
          const local = pair && byId.get(pair.localCandidateId);
          if (local) {
            out.localTypes.push(`${local.candidateType}/${local.relayProtocol ?? local.protocol}`);
          }
        }
      });
    }
    return out;
  });
}

/** Whether some inbound video stream received bytes and decoded frames since `before`. */
export function grew(before, now) {
  return Object.entries(now.byStream).some(([key, s]) => {
    let b = before.byStream[key] ?? { bytesReceived: 0, framesDecoded: 0 };
    if (s.bytesReceived < b.bytesReceived) {
      b = { bytesReceived: 0, framesDecoded: 0 }; // the counters started again (a recreated receiver)
    }
    return s.bytesReceived > b.bytesReceived && s.framesDecoded > b.framesDecoded;
  });
}

/** Video bytes received since `before`, summed over inbound streams (a new one counts from 0). */
export function bytesSince(before, now) {
  return Object.entries(now.byStream).reduce((n, [key, s]) => {
    const was = before.byStream[key]?.bytesReceived ?? 0;
    const b = s.bytesReceived < was ? 0 : was;
    return n + Math.max(0, s.bytesReceived - b);
  }, 0);
}

/** Waits until the page's inbound video bytes and decoded frames grow; returns when they did (epoch ms). */
export async function videoFlowing(page, timeoutMs = 15000, everyMs = 100) {
  const first = await mediaStats(page);
  let last = first;
  try {
    return await until(
      'inbound video bytes and decoded frames to grow',
      async () => {
        last = await mediaStats(page);
        return grew(first, last) ? Date.now() : 0;
      },
      timeoutMs,
      everyMs
    );
  } catch (e) {
    throw new Error(`${e.message} (first ${JSON.stringify(first)}, last ${JSON.stringify(last)})`);
  }
}

/**
 * After a cut is healed: polls both pages until the candidate's reconnecting banner is gone and
 * video flows into both, and says when each happened (ms after `restoredAt`). Throws on timeout
 * with what did and did not come back.
 */
export async function recovery(candidatePage, interviewerPage, restoredAt, timeoutMs = 30000, everyMs = 50) {
  const firstC = await mediaStats(candidatePage);
  const firstI = await mediaStats(interviewerPage);
  const got = { signalingMs: null, candidateVideoMs: null, interviewerVideoMs: null };
  const deadline = Date.now() + timeoutMs;
  let lastC = firstC;
  let lastI = firstI;
  while (Date.now() < deadline) {
    if (got.signalingMs === null) {
      const banner = await candidatePage.locator('[data-testid="ji-reconnecting"]').isVisible().catch(() => true);
      if (!banner) {
        got.signalingMs = Date.now() - restoredAt;
      }
    }
    if (got.candidateVideoMs === null) {
      lastC = await mediaStats(candidatePage);
      if (grew(firstC, lastC)) {
        got.candidateVideoMs = Date.now() - restoredAt;
      }
    }
    if (got.interviewerVideoMs === null) {
      lastI = await mediaStats(interviewerPage);
      if (grew(firstI, lastI)) {
        got.interviewerVideoMs = Date.now() - restoredAt;
      }
    }
    if (Object.values(got).every(v => v !== null)) {
      return { ...got, videoMs: Math.max(got.candidateVideoMs, got.interviewerVideoMs), path: lastC.localTypes };
    }
    await sleep(everyMs);
  }
  throw new Error(
    `not everything came back within ${timeoutMs} ms of the restore: ${JSON.stringify(got)}` +
      ` (candidate ${JSON.stringify(lastC.states)}, interviewer ${JSON.stringify(lastI.states)})`
  );
}

/** Clicks through the device check (ticking the recording notice when shown) if it is shown; when Join was clicked (epoch ms) or null. */
export async function passDeviceCheck(page, timeoutMs = 30000, times = {}, options = {}) {
  if (options.direct) {
    return passDeviceCheckDirectly(page, timeoutMs, times);
  }
  const check = page.locator(tid('ji-device-check'));
  const panel = page.locator(tid('ji-panel'));
  const waiting = page.locator(tid('ji-waiting-room'));
  await check.or(panel).or(waiting).first().waitFor({ state: 'visible', timeout: timeoutMs });
  times.visible = Date.now();
  if (!(await check.isVisible())) {
    return null;
  }
  const ack = page.locator(tid('ji-recording-ack'));
  if ((await ack.count()) > 0 && !(await ack.isChecked())) {
    await ack.check();
  }
  times.acknowledged = Date.now();
  await page.locator(tid('ji-join')).click();
  times.clicked = Date.now();
  return times.clicked;
}

/**
 * The device check passed as a quick person would: once the lobby is laid out, a mouse click on the
 * box and one on Join, as real input events (the browser handles input ahead of its other work).
 * Playwright's check() and click() each wait on several round trips into the page first, which a
 * page busy loading JupyterLab answers late: a cost of the harness, not of the page.
 */
async function passDeviceCheckDirectly(page, timeoutMs, times) {
  const spots = await page.waitForFunction(
    () => {
      const centre = id => {
        const node = document.querySelector(`[data-testid="${id}"]`);
        const box = node?.getBoundingClientRect();
        return box && box.width > 0 ? { x: box.x + box.width / 2, y: box.y + box.height / 2 } : null;
      };
      const join = centre('ji-join');
      return join && { join, ack: centre('ji-recording-ack') };
    },
    null,
    { timeout: timeoutMs, polling: 20 }
  );
  const { join, ack } = await spots.jsonValue();
  times.visible = Date.now();
  if (ack !== null) {
    await page.mouse.click(ack.x, ack.y);
  }
  times.acknowledged = Date.now();
  await page.mouse.click(join.x, join.y);
  times.clicked = Date.now();
  return times.clicked;
}

/** Clicks accept in a JupyterLab dialog if one comes up within timeoutMs (a confirmation). */
export async function acceptDialog(page, timeoutMs = 2000) {
  const accept = page.locator('.jp-Dialog .jp-mod-accept');
  try {
    await accept.first().waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    return false;
  }
  await accept.first().click();
  return true;
}

/** What happened to the call: room-socket signaling and peer connection states, times in epoch ms. */
export async function callTrace(p) {
  const pcs = await p.page.evaluate(() => window.__e2e.pcTrace ?? []).catch(() => []);
  return { signals: p.signals, peerStates: pcs, console: p.console.slice(-30) };
}

/** The page's marks (epoch ms) from the probe. */
export async function marks(page) {
  return page.evaluate(() => ({ ...window.__e2e.marks }));
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) {
    return null;
  }
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Ends the process after ms whatever happens, printing what the runner has so far. */
export function deadline(ms, result, cleanup) {
  const timer = setTimeout(async () => {
    result.error = result.error ?? `the runner's overall limit of ${ms / 1000} s was reached`;
    try {
      await Promise.race([cleanup(), sleep(10000)]);
    } finally {
      process.stdout.write(JSON.stringify(result) + '\n');
      process.exit(3);
    }
  }, ms);
  timer.unref();
  return timer;
}

/**
 * What every scenario runner shares, recording into `result`: the participants it launches
 * (`people`; their console's last lines go into the result), `cleanup` (closes them, then `proxies`),
 * the overall time limit (`config.limitMs`, else `limitMs`) and the screenshot folder. `step` is a
 * prerequisite (a failure stops the scenario: what follows depends on it; `result.step` says where
 * it stopped), `check` an observation (recorded in `result.checks` as ok or not with its detail; the
 * scenario goes on).
 */
export function scenario(result, config, { limitMs, proxies = [] }) {
  result.checks = result.checks ?? {};
  const people = [];
  const cleanup = async () => {
    for (const p of people) {
      result.console = { ...(result.console ?? {}), [p.name]: p.console.slice(-40) };
      await closeParticipant(p);
    }
    for (const proxy of proxies) {
      await proxy.close();
    }
  };
  deadline(config.limitMs ?? limitMs, result, cleanup);
  fs.mkdirSync(config.artifacts, { recursive: true });
  return {
    people,
    cleanup,
    async step(name, fn) {
      result.step = name;
      log('step', name);
      return fn();
    },
    async check(name, fn) {
      log('check', name);
      try {
        result.checks[name] = { ok: true, ...((await fn()) ?? {}) };
      } catch (e) {
        result.checks[name] = { ok: false, error: String(e?.message ?? e).slice(0, 2000) };
        log('  failed:', result.checks[name].error);
      }
    }
  };
}
