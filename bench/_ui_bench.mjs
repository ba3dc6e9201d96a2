// Browser side of bench/bench_ui.py: per round, plain JupyterLab opening a notebook link (the
// baseline) and a candidate opening an interview link with the interviewer already in the call,
// then a 5 s cut of the candidate's network. Each page is a fresh browser profile (cold cache).
//
// Config on stdin: tests/e2e/stack.py's runner_config() plus `rounds` (each with `interviewerLink`,
// `candidateLink`, `candidateId`, `interviewerId`), `plainLink`, `plainPort`, `plainProxyPort`, `cutMs`.
// Prints one JSON line: {"rounds": [{...figures in ms...}], "error"?}.

import {
  callTrace,
  closeParticipant,
  CutProxy,
  deadline,
  launchParticipant,
  log,
  marks,
  passDeviceCheck,
  recovery,
  rewriteTurnPort,
  sleep,
  stackProxies,
  tid,
  until,
  videoFlowing
} from '../tests/e2e/lib.mjs';
import { readConfig } from '../tests/e2e/lib.mjs';

const config = await readConfig();
const result = { rounds: [] };
const { http, turn } = stackProxies(config);
// The baseline goes through the same kind of proxy, so both pages pay the same loopback hop.
const plainHttp = new CutProxy('plain', config.plainProxyPort, config.plainPort);
const open = new Set();
const cleanup = async () => {
  for (const p of open) {
    await closeParticipant(p);
  }
  for (const proxy of [http, turn, plainHttp]) {
    await proxy.close();
  }
};
deadline(config.limitMs ?? 900000, result, cleanup);

async function launch(name) {
  const p = await launchParticipant(config, name);
  open.add(p);
  return p;
}

async function close(p) {
  open.delete(p);
  await closeParticipant(p);
}

/** Bytes and requests the page fetched (body + headers as on the wire) until `beforeMs` (epoch). */
function countTraffic(p) {
  const finished = [];
  p.page.on('requestfinished', request => {
    const at = Date.now();
    finished.push(
      request.sizes().then(
        s => ({ at, bytes: s.responseBodySize + s.responseHeadersSize, url: request.url() }),
        () => ({ at, bytes: 0, url: request.url() })
      )
    );
  });
  return async beforeMs => {
    const all = await Promise.all(finished);
    const kept = all.filter(r => r.at <= beforeMs);
    return { requests: kept.length, bytes: kept.reduce((n, r) => n + r.bytes, 0) };
  };
}

async function plainLab() {
  const p = await launch('plain');
  const traffic = countTraffic(p);
  const t0 = Date.now();
  await p.page.goto(config.plainLink, { timeout: 60000 });
  await p.page.locator('.jp-NotebookPanel .jp-CodeCell .cm-content').first().waitFor({ state: 'visible', timeout: 60000 });
  const m = await marks(p.page);
  const out = { notebookReadyMs: m.notebookCell - t0, ...(await traffic(m.notebookCell)) };
  await close(p);
  return out;
}

async function interviewRound(round) {
  const interviewer = await launch('interviewer');
  await rewriteTurnPort(interviewer, config.turnProxyPort, config.turnPort);
  await interviewer.page.goto(round.interviewerLink, { timeout: 60000 });
  await passDeviceCheck(interviewer.page, 60000);
  await interviewer.page.locator(tid('ji-panel')).first().waitFor({ state: 'visible', timeout: 60000 });
  await interviewer.page.locator(tid('ji-start')).first().click({ timeout: 10000 });
  await interviewer.page
    .locator(tid('ji-start'))
    .first()
    .waitFor({ state: 'hidden', timeout: 10000 })
    .catch(() => {});
  await sleep(500); // the interviewer settled: camera on, socket open, room live

  const candidate = await launch('candidate');
  const traffic = countTraffic(candidate);
  const t0 = Date.now();
  await candidate.page.goto(round.candidateLink, { timeout: 60000 });
  const steps = {};
  const joinedAt = await passDeviceCheck(candidate.page, 60000, steps, { direct: true });
  await until('the first remote video frame', async () => (await marks(candidate.page)).firstRemoteFrame, 60000, 50);
  await candidate.page.locator('.jp-NotebookPanel .jp-CodeCell .cm-content').first().waitFor({ state: 'visible', timeout: 60000 });
  const m = await marks(candidate.page);
  const out = {
    firstFrameMs: m.firstRemoteFrame - t0,
    panelToFirstFrameMs: m.firstRemoteFrame - m.panel,
    panelMs: m.panel - t0,
    deviceCheckMs: m.deviceCheck !== undefined ? m.deviceCheck - t0 : null,
    deviceCheckVisibleMs: steps.visible - t0,
    ackDoneMs: steps.acknowledged - t0,
    joinClickMs: joinedAt !== null ? joinedAt - t0 : null,
    joinHandledMs: m.joinHandled !== undefined ? m.joinHandled - t0 : null,
    notebookReadyMs: m.notebookCell - t0,
    firstFrameWidth: m.firstRemoteFrameWidth,
    ...(await traffic(m.notebookCell))
  };

  // The cut: every proxied connection of the candidate reset, new ones refused, for cutMs.
  await videoFlowing(candidate.page, 15000);
  await videoFlowing(interviewer.page, 15000);
  await http.sever();
  await turn.sever();
  await sleep(config.cutMs);
  await turn.restore();
  await http.restore();
  const restoredAt = Date.now();
  try {
    const got = await recovery(candidate.page, interviewer.page, restoredAt, 30000);
    out.restoreToVideoMs = got.videoMs;
    out.restoreToVideoCandidateMs = got.candidateVideoMs;
    out.restoreToSignalingMs = got.signalingMs;
  } catch (e) {
    // Counted as a failed recovery, with the record of what the call did; the rounds go on.
    out.restoreToVideoMs = null;
    out.restoreError = e.message.slice(0, 1500);
    out.restoredAt = restoredAt;
    out.trace = { interviewer: await callTrace(interviewer), candidate: await callTrace(candidate) };
  }
  await close(candidate);
  await close(interviewer);
  return out;
}

try {
  await http.start();
  await turn.start();
  await plainHttp.start();
  for (const [n, round] of config.rounds.entries()) {
    // Alternate which goes first, so neither always meets the warmer machine.
    const plainFirst = n % 2 === 0;
    const row = { round: n + 1 };
    if (plainFirst) {
      row.plain = await plainLab();
    }
    row.interview = await interviewRound(round);
    if (!plainFirst) {
      row.plain = await plainLab();
    }
    result.rounds.push(row);
    log(`round ${n + 1}:`, JSON.stringify(row));
  }
} catch (e) {
  result.error = String(e?.stack ?? e).slice(0, 3000);
  log('error:', result.error);
} finally {
  await cleanup();
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
