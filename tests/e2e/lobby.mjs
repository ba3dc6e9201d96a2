// The lobby, end to end: the device check shows from the page's first script, before JupyterLab,
// and a Join pressed then enters the room once the lab has loaded, with the lobby's camera and
// microphone. The candidate's JupyterLab bundle is held back (request interception) until the
// candidate has pressed Join, so "before the lab" is certain, not a race. The interviewer's
// browser prefers a dark colour scheme: the lobby follows it until the lab's theme takes over.
//
// Config on stdin: stack.py's runner_config() plus `interviewerLink`, `candidateLink`,
// `candidateId`, `interviewerId`, `artifacts`. Prints {"checks": {...}, "error"?}.

import path from 'node:path';

import {
  launchParticipant,
  log,
  marks,
  mediaStats,
  passDeviceCheck,
  readConfig,
  rewriteTurnPort,
  scenario,
  sleep,
  stackProxies,
  tid,
  until,
  videoFlowing
} from './lib.mjs';

const config = await readConfig();
const result = { checks: {}, step: null };
const { http, turn } = stackProxies(config);
const { step, check, people, cleanup } = scenario(result, config, { limitMs: 180000, proxies: [http, turn] });

async function screenshot(p, label) {
  await p.page.screenshot({ path: path.join(config.artifacts, `${p.name}-${label}.png`), timeout: 10000 }).catch(e => {
    log('screenshot failed', label, e.message);
  });
}

/** What the lobby looks like now: colours, whether the lab exists yet, the Join button. */
const lobbyState = page =>
  page.evaluate(() => {
    const card = document.querySelector('[data-testid="ji-device-check"]');
    const join = document.querySelector('[data-testid="ji-join"]');
    const early = window[Symbol.for('jupyter-interview.lobby')];
    return {
      screen: early?.session?.screen ?? null,
      connection: early?.room?.connection?.state ?? null,
      shown: card !== null && card.getBoundingClientRect().width > 0,
      labShell: document.querySelector('.jp-LabShell') !== null,
      themed: document.body.hasAttribute('data-jp-theme-name'),
      cardBackground: card ? getComputedStyle(card).backgroundColor : null,
      joinDisabled: join ? join.disabled : null,
      joinText: join ? join.textContent : null,
      joiningShown: !!document.querySelector('[data-testid="ji-lobby-joining"]:not([hidden])')
    };
  });

/** Relative luminance-ish of `rgb(r, g, b)`: below 0.5 is dark. */
function lightness(rgb) {
  const [r, g, b] = (rgb.match(/\d+(\.\d+)?/g) ?? ['255', '255', '255']).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

try {
  await step('start the proxies', async () => {
    await http.start();
    await turn.start();
  });
  const interviewer = await step('the interviewer (dark colour scheme) opens the link', async () => {
    const p = await launchParticipant(config, 'interviewer', { colorScheme: 'dark' });
    people.push(p);
    await rewriteTurnPort(p, config.turnProxyPort, config.turnPort);
    await p.page.goto(config.interviewerLink, { timeout: 60000 });
    return p;
  });
  await check('the interviewer lobby follows a dark colour scheme before the lab theme', async () => {
    await interviewer.page.locator(tid('ji-device-check')).first().waitFor({ state: 'visible', timeout: 60000 });
    const state = await lobbyState(interviewer.page);
    await screenshot(interviewer, '0-lobby-dark');
    if (!state.themed && lightness(state.cardBackground) >= 0.5) {
      throw new Error(`a light lobby in a dark colour scheme: ${JSON.stringify(state)}`);
    }
    return { ...state, lightness: lightness(state.cardBackground) };
  });
  await step('the interviewer enters and starts', async () => {
    await passDeviceCheck(interviewer.page, 60000);
    await interviewer.page.locator(tid('ji-panel')).first().waitFor({ state: 'visible', timeout: 60000 });
    await interviewer.page.locator(tid('ji-start')).first().click({ timeout: 10000 });
    await interviewer.page.locator(tid('ji-start')).first().waitFor({ state: 'hidden', timeout: 10000 }).catch(() => {});
  });

  const candidate = await step('the candidate opens the link with the lab bundle held back', async () => {
    const p = await launchParticipant(config, 'candidate');
    people.push(p);
    return p;
  });
  const C = candidate.page;
  let release;
  const released = new Promise(resolve => (release = resolve));
  let held = 0;
  await C.route(/\/static\/(lab\/main\.[0-9a-f]+|jupyter_interview\/app\/bundle)\.js/, async route => {
    held += 1;
    await released;
    await route.continue();
  });
  await C.goto(config.candidateLink, { timeout: 60000, waitUntil: 'commit' });

  await check('the lobby shows before JupyterLab has loaded', async () => {
    await C.locator(tid('ji-device-check')).first().waitFor({ state: 'visible', timeout: 30000 });
    await until('the camera preview to play', () => C.locator(tid('ji-device-preview')).first().evaluate(v => v.videoWidth), 10000);
    const state = await lobbyState(C);
    await screenshot(candidate, '0-lobby');
    if (state.labShell || held === 0) {
      throw new Error(`the lab was there already (bundle requests held: ${held}): ${JSON.stringify(state)}`);
    }
    if (!state.joinDisabled) {
      throw new Error('Join is enabled before the candidate acknowledged the recording');
    }
    return { ...state, heldRequests: held, lightness: lightness(state.cardBackground) };
  });
  await check('join pressed before the lab says it will join once the page has loaded', async () => {
    await C.locator(tid('ji-recording-ack')).first().check({ timeout: 5000 });
    await C.locator(tid('ji-join')).first().click({ timeout: 5000 });
    const state = await lobbyState(C);
    if (!state.joinDisabled || !state.joiningShown || state.labShell) {
      throw new Error(JSON.stringify(state));
    }
    return state;
  });
  release();
  await check('the lab takes over the join: the room, both videos, the lobby gone, no second click', async () => {
    // The call may show in the lobby first (the lab still opening the notebook): a picture of it.
    const lobbyCall = C.locator(`${tid('ji-lobby-call')} ${tid('ji-video-remote')}`).first();
    const panel = C.locator(tid('ji-panel')).first();
    await lobbyCall.or(panel).first().waitFor({ state: 'visible', timeout: 60000 });
    const callInLobby = await lobbyCall.isVisible();
    if (callInLobby) {
      await screenshot(candidate, '0-lobby-call');
    }
    await panel.waitFor({ state: 'visible', timeout: 60000 });
    await until('the first remote video frame', async () => (await marks(C)).firstRemoteFrame, 30000, 50);
    await videoFlowing(C, 15000);
    await videoFlowing(interviewer.page, 15000);
    const gone = (await C.locator(tid('ji-device-check')).count()) === 0;
    if (!gone) {
      throw new Error('the lobby is still on the page after the lab took over');
    }
    const m = await marks(C);
    // The media the lobby started is the call's: the interviewer receives the candidate's video.
    const stats = await mediaStats(interviewer.page);
    return { joinBeforeLabMs: m.labShell - m.joinHandled, callInLobby, frameBeforePanelMs: m.panel - m.firstRemoteFrame, stats };
  });
} catch (e) {
  result.error = String(e?.stack ?? e).slice(0, 3000);
  log('error:', result.error);
} finally {
  await cleanup();
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
