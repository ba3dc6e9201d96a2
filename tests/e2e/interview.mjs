// The interview, end to end in two real browsers: an interviewer (direct to the server and coturn)
// and a candidate (through the severable HTTP and TURN proxies). One scenario, in order; every
// observation goes into `checks` for tests/test_e2e_browser.py to assert on.
//
// Config on stdin: stack.py's runner_config() plus `room`, `interviewerLink`, `candidateLink`,
// `candidateId`, `interviewerId`, `artifacts` (screenshot folder), `cutMs`.

import path from 'node:path';

import {
  acceptDialog,
  bytesSince,
  callTrace,
  launchParticipant,
  log,
  marks,
  mediaStats,
  passDeviceCheck,
  readConfig,
  recovery,
  rewriteTurnPort,
  scenario,
  sleep,
  stackProxies,
  tid,
  until,
  videoFlowing
} from './lib.mjs';

const config = await readConfig();
const result = { checks: {}, step: null, screenshots: [], figures: {} };
const { http, turn } = stackProxies(config);
const { step, check, people, cleanup } = scenario(result, config, { limitMs: 300000, proxies: [http, turn] });

async function screenshot(p, label) {
  const file = path.join(config.artifacts, `${p.name}-${label}.png`);
  try {
    await p.page.screenshot({ path: file, timeout: 10000 });
    result.screenshots.push(file);
  } catch (e) {
    log('screenshot failed', file, e.message);
  }
}

const visible = (page, selector, timeout = 10000) =>
  page.locator(selector).first().waitFor({ state: 'visible', timeout });
const hidden = (page, selector, timeout = 10000) =>
  page.locator(selector).first().waitFor({ state: 'hidden', timeout });
const tile = id => `${tid('ji-tile')}[data-participant="${id}"]`;
const person = id => `${tid('ji-participant')}[data-participant="${id}"]`;
const attr = (page, selector, name) => page.locator(selector).first().getAttribute(name, { timeout: 5000 });

async function waitAttr(page, selector, name, want, timeout = 10000) {
  await until(`${selector} ${name}=${want}`, async () => (await attr(page, selector, name)) === want, timeout);
}

/** Remaining timer ms as of one shared instant (the timer counts down 1 ms per ms when running). */
async function timerAt(page) {
  const [remaining, at, state] = await page.evaluate(sel => {
    const el = document.querySelector(sel);
    return [Number(el?.getAttribute('data-remaining-ms')), Date.now(), el?.getAttribute('data-state')];
  }, tid('ji-timer'));
  return { remaining, at, state };
}

async function timersAgree(a, b, samples = 3) {
  let worst = 0;
  const seen = [];
  for (let i = 0; i < samples; i++) {
    const x = await timerAt(a);
    const y = await timerAt(b);
    if (!Number.isFinite(x.remaining) || !Number.isFinite(y.remaining)) {
      throw new Error(`no data-remaining-ms: ${JSON.stringify([x, y])}`);
    }
    const running = x.state === 'running';
    const diff = Math.abs(x.remaining - (y.remaining + (running ? y.at - x.at : 0)));
    worst = Math.max(worst, diff);
    seen.push([x.remaining, y.remaining, x.state, y.state]);
    await sleep(400);
  }
  if (worst > 1000) {
    throw new Error(`timers differ by ${worst} ms: ${JSON.stringify(seen)}`);
  }
  return { worstDiffMs: worst, samples: seen };
}

async function notebookText(page) {
  return (await page.locator('.jp-NotebookPanel .jp-Cell .cm-content').allTextContents()).join('\n');
}

async function typeInFirstCell(page, text) {
  const editor = page.locator('.jp-NotebookPanel .jp-CodeCell .cm-content').first();
  await editor.click({ timeout: 5000 });
  await page.keyboard.press('Control+End');
  await page.keyboard.type(text, { delay: 20 });
}

async function sendChat(from, text) {
  const input = from.page.locator(tid('ji-chat-input')).first();
  await input.click();
  await input.pressSequentially(text, { delay: 40 });
  await from.page.locator(tid('ji-chat-send')).first().click();
}

async function chatArrived(to, fromId, text, timeout = 10000) {
  const message = to.page.locator(`${tid('ji-chat-message')}[data-from="${fromId}"]`, { hasText: text });
  await message.first().waitFor({ state: 'visible', timeout });
}

/**
 * Every kernel websocket the page tries (refused ones too: Playwright reports the attempt) and
 * every session it asks the server to start, on `p.kernel`.
 */
function watchKernel(p) {
  p.kernel = { attempts: [], open: 0, sessionStarts: [] };
  p.page.on('websocket', ws => {
    if (!/\/api\/kernels\/[^/]+\/channels/.test(ws.url())) {
      return;
    }
    p.kernel.attempts.push(Date.now());
    p.kernel.open += 1;
    ws.on('close', () => {
      p.kernel.open -= 1;
    });
  });
  p.page.on('request', r => {
    if (r.method() === 'POST' && /\/api\/sessions\b/.test(r.url())) {
      p.kernel.sessionStarts.push(Date.now());
    }
  });
}

/** JupyterLab dialogs showing now, by their text. */
async function dialogsShown(page) {
  const dialogs = page.locator('.jp-Dialog');
  const texts = [];
  for (let i = 0; i < (await dialogs.count()); i++) {
    if (await dialogs.nth(i).isVisible()) {
      texts.push(((await dialogs.nth(i).textContent()) ?? '').trim().slice(0, 200));
    }
  }
  return texts;
}

/** What the notebook toolbar says about the kernel (name, and the execution indicator's status). */
function kernelIndicator(page) {
  return page.evaluate(() => ({
    name: document.querySelector('.jp-NotebookPanel .jp-KernelName')?.textContent?.trim() ?? null,
    status: document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator')?.getAttribute('data-status') ?? null
  }));
}

let interviewer;
let candidate;
try {
  await step('start the proxies', async () => {
    await http.start();
    await turn.start();
  });
  interviewer = await step('launch the interviewer browser', async () => {
    const p = await launchParticipant(config, 'interviewer');
    people.push(p);
    await rewriteTurnPort(p, config.turnProxyPort, config.turnPort);
    return p;
  });
  candidate = await step('launch the candidate browser', async () => {
    const p = await launchParticipant(config, 'candidate');
    people.push(p);
    watchKernel(p);
    return p;
  });
  const I = interviewer.page;
  const C = candidate.page;
  // JupyterLab's server-event socket: the server refuses it a participant, so the app opens none.
  const eventSockets = { interviewer: 0, candidate: 0 };
  for (const [name, p] of [['interviewer', I], ['candidate', C]]) {
    p.on('websocket', ws => {
      if (/\/api\/events\/subscribe/.test(ws.url())) {
        eventSockets[name] += 1;
      }
    });
  }

  await step('the interviewer opens the link and enters', async () => {
    await I.goto(config.interviewerLink, { timeout: 60000 });
    await passDeviceCheck(I, 60000);
    await visible(I, tid('ji-panel'), 60000);
  });
  await check('interviewer page is in interview mode', async () => {
    const [cls, role] = await I.evaluate(() => [document.body.className, document.body.dataset.interviewRole]);
    if (!cls.includes('jp-Interview-mode') || role !== 'interviewer') {
      throw new Error(`body class ${cls}, data-interview-role ${role}`);
    }
    return { role };
  });
  await step('the interviewer starts the interview', async () => {
    await I.locator(tid('ji-start')).first().click({ timeout: 10000 });
    await acceptDialog(I, 1500);
    await hidden(I, tid('ji-start'), 10000).catch(() => {});
  });

  await step('the candidate opens the link through the proxy', async () => {
    await C.goto(config.candidateLink, { timeout: 60000 });
  });
  await check('device check shows preview, level and the recording notice', async () => {
    await visible(C, tid('ji-device-check'), 60000);
    await visible(C, tid('ji-recording-notice'), 5000);
    const width = await until(
      'the camera preview to play',
      () => C.locator(tid('ji-device-preview')).first().evaluate(v => v.videoWidth),
      10000
    );
    // Chromium's fake microphone beeps: the meter must move at some point within a few seconds.
    let level = 0;
    const levelUntil = Date.now() + 4000;
    while (Date.now() < levelUntil && level <= 0) {
      level = Math.max(level, Number(await attr(C, tid('ji-mic-level'), 'data-level')) || 0);
      await sleep(50);
    }
    const join = C.locator(tid('ji-join')).first();
    const ack = C.locator(tid('ji-recording-ack')).first();
    const ackChecked = await ack.isChecked();
    const joinEnabledBeforeAck = await join.isEnabled();
    return { previewWidth: width, micLevel: level, ackCheckedAtFirst: ackChecked, joinEnabledBeforeAck };
  });
  await step('the candidate acknowledges and joins', async () => {
    await passDeviceCheck(C, 10000);
  });
  await check('candidate waits in the waiting room', async () => {
    await visible(C, tid('ji-waiting-room'), 20000);
    if ((await C.locator(tid('ji-panel')).count()) > 0 && (await C.locator(tid('ji-panel')).first().isVisible())) {
      throw new Error('the panel is visible before admission');
    }
  });
  await step('the interviewer sees the knock and admits', async () => {
    const knock = `${tid('ji-knock')}[data-participant="${config.candidateId}"]`;
    await visible(I, knock, 20000);
    await I.locator(`${knock} ${tid('ji-admit')}`).first().click();
  });
  await check('admitted candidate leaves the waiting room for the panel', async () => {
    await hidden(C, tid('ji-waiting-room'), 15000);
    await visible(C, tid('ji-panel'), 15000);
    const role = await C.evaluate(() => document.body.dataset.interviewRole);
    if (role !== 'candidate') {
      throw new Error(`data-interview-role ${role}`);
    }
  });

  await step('each side sees the other side\'s video', async () => {
    for (const [p, other] of [
      [I, config.candidateId],
      [C, config.interviewerId]
    ]) {
      await until(
        `a playing remote video in the tile of ${other}`,
        () => p.locator(`${tile(other)} ${tid('ji-video-remote')}`).first().evaluate(v => v.videoWidth),
        30000
      );
    }
  });
  await check('both videos play with growing inbound bytes', async () => {
    const out = {};
    for (const [name, p, other] of [
      ['interviewer', I, config.candidateId],
      ['candidate', C, config.interviewerId]
    ]) {
      await videoFlowing(p, 15000);
      const width = await p.locator(`${tile(other)} ${tid('ji-video-remote')}`).first().evaluate(v => v.videoWidth);
      const stats = await mediaStats(p);
      out[name] = { videoWidth: width, bytesReceived: stats.bytesReceived, path: stats.localTypes };
    }
    return out;
  });
  await check('candidate media goes through the TURN relay over TCP', async () => {
    const s = await mediaStats(C);
    if (!s.localTypes.length || !s.localTypes.every(t => t === 'relay/tcp')) {
      throw new Error(`selected local candidates ${JSON.stringify(s.localTypes)}`);
    }
    if (turn.accepted === 0) {
      throw new Error('nothing connected through the TURN proxy');
    }
    return { localTypes: s.localTypes, turnProxyConnections: turn.accepted };
  });
  await check('the quality indicator shows measured figures', async () => {
    const quality = I.locator(`${tile(config.candidateId)} ${tid('ji-quality')}`).first();
    const value = await until(
      'a measured quality',
      async () => {
        const q = await quality.getAttribute('data-quality');
        return q && q !== 'unknown' ? q : '';
      },
      15000
    );
    const title = (await quality.getAttribute('title')) ?? (await quality.getAttribute('aria-label')) ?? '';
    if (!/rtt|ms/i.test(title)) {
      throw new Error(`quality ${value} without rtt in its title: ${JSON.stringify(title)}`);
    }
    return { quality: value, title };
  });
  result.figures.candidateMarks = await marks(C);
  await screenshot(interviewer, '1-call');
  await screenshot(candidate, '1-call');

  await check('candidate has no notes tab, the interviewer has one', async () => {
    const candidateTabs = await C.locator(tid('ji-notes-tab')).count();
    const candidateEditors = await C.locator(tid('ji-notes-editor')).count();
    const interviewerTabs = await I.locator(tid('ji-notes-tab')).count();
    if (candidateTabs !== 0 || candidateEditors !== 0 || interviewerTabs === 0) {
      throw new Error(`notes tabs: candidate ${candidateTabs} (editors ${candidateEditors}), interviewer ${interviewerTabs}`);
    }
    return { interviewerTabs };
  });
  await check('the interviewer has a History button in the panel, the candidate none', async () => {
    const mine = I.locator(`${tid('ji-panel')} ${tid('ji-panel-history')}`);
    if ((await mine.count()) !== 1 || !(await mine.first().isVisible())) {
      throw new Error(`the interviewer's panel has ${await mine.count()} visible History buttons`);
    }
    const label = (await mine.first().getAttribute('aria-label')) ?? '';
    const text = ((await mine.first().textContent()) ?? '').trim();
    // The accessible name includes the words shown (WCAG "label in name").
    if (!label || !label.toLowerCase().includes(text.toLowerCase())) {
      throw new Error(`aria-label ${JSON.stringify(label)} for the visible text ${JSON.stringify(text)}`);
    }
    const candidateButtons = await C.locator(
      `${tid('ji-panel-history')}, ${tid('ji-open-history')}, ${tid('ji-open-replay')}`
    ).count();
    if (candidateButtons !== 0) {
      throw new Error(`the candidate's page has ${candidateButtons} history buttons`);
    }
    return { ariaLabel: label, text, candidateButtons };
  });
  await check('both pages are the participant app, with no server-event socket', async () => {
    const pages = {};
    for (const [name, p] of [['interviewer', I], ['candidate', C]]) {
      pages[name] = await p.evaluate(() => ({
        app: !!document.querySelector('script[src*="/static/jupyter_interview/app/bundle.js"]'),
        lab: !!document.querySelector('script[src*="/static/lab/main."]')
      }));
      if (!pages[name].app || pages[name].lab) {
        throw new Error(`${name}: ${JSON.stringify(pages[name])}`);
      }
    }
    if (eventSockets.interviewer + eventSockets.candidate !== 0) {
      throw new Error(`api/events/subscribe sockets: ${JSON.stringify(eventSockets)}`);
    }
    return { pages, eventSockets };
  });
  await check('a formula in a Markdown cell is typeset (MathJax loads for math)', async () => {
    const before = await C.locator('mjx-container').count();
    const cell = C.locator('.jp-NotebookPanel .jp-CodeCell').first();
    await cell.click({ timeout: 5000 });
    await C.keyboard.press('Escape');
    await C.keyboard.press('b'); // a new cell below, in command mode
    await C.keyboard.press('m'); // as Markdown
    await C.keyboard.press('Enter');
    await C.keyboard.type('Runs in $O(n \\log n)$ time.', { delay: 10 });
    await C.keyboard.press('Shift+Enter');
    await until('a typeset formula', async () => (await C.locator('.jp-MarkdownCell mjx-container').count()) > before, 20000);
    return { formulas: await C.locator('mjx-container').count() };
  });
  await check('notes API answers 403 to the candidate and 200 to the interviewer', async () => {
    const get = (page, room) =>
      page.evaluate(async url => (await fetch(url, { credentials: 'same-origin' })).status, `${config.baseUrl}interview/api/rooms/${room}/notes`);
    const c = await get(C, config.room);
    const i = await get(I, config.room);
    if (c !== 403 || i !== 200) {
      throw new Error(`candidate ${c}, interviewer ${i}`);
    }
    return { candidate: c, interviewer: i };
  });

  await check('muting the microphone and camera shows on the other side', async () => {
    const mic = C.locator(tid('ji-mic-toggle')).first();
    const cam = C.locator(tid('ji-cam-toggle')).first();
    const before = await mic.getAttribute('aria-pressed');
    await waitAttr(I, tile(config.candidateId), 'data-mic', 'on');
    await mic.click();
    await waitAttr(I, tile(config.candidateId), 'data-mic', 'off');
    const after = await mic.getAttribute('aria-pressed');
    await mic.click();
    await waitAttr(I, tile(config.candidateId), 'data-mic', 'on');
    await cam.click();
    await waitAttr(I, tile(config.candidateId), 'data-cam', 'off');
    await cam.click();
    await waitAttr(I, tile(config.candidateId), 'data-cam', 'on');
    if (before === after) {
      throw new Error(`the mic toggle's aria-pressed stayed ${before}`);
    }
    return { ariaPressed: [before, after] };
  });

  await check('screen share switches by replaceTrack with no new offer', async () => {
    const offers = () => [interviewer.sentOffers.length, candidate.sentOffers.length];
    await sleep(1000); // negotiation of the call itself is over
    const offersBefore = offers();
    const remote = I.locator(`${tile(config.candidateId)} ${tid('ji-video-remote')}`).first();
    // Shapes, not sizes: under CPU load WebRTC scales the picture down, but the fake camera stays 4:3
    // and the fake screen has the browser window's shape.
    const shape = () => remote.evaluate(v => (v.videoHeight ? [v.videoWidth, v.videoHeight] : null));
    const isCamera = ([w, h]) => Math.abs(w / h - 4 / 3) < 0.02;
    const before = await shape();
    if (!before || !isCamera(before)) {
      throw new Error(`the candidate's camera is not showing before the share: ${JSON.stringify(before)}`);
    }
    await C.locator(tid('ji-screen-toggle')).first().click();
    await waitAttr(C, tid('ji-screen-toggle'), 'aria-pressed', 'true');
    await waitAttr(I, tile(config.candidateId), 'data-screen', 'on');
    const shared = await until('the remote video to show the shared screen', async () => {
      const s = await shape();
      return s && !isCamera(s) ? s : null;
    }, 15000);
    await screenshot(interviewer, '2-screen-share');
    await screenshot(candidate, '2-screen-share');
    await C.locator(tid('ji-screen-toggle')).first().click();
    await waitAttr(I, tile(config.candidateId), 'data-screen', 'off');
    const back = await until('the camera to come back', async () => {
      const s = await shape();
      return s && isCamera(s) ? s : null;
    }, 15000);
    await sleep(1000);
    const after = offers();
    if (after[0] !== offersBefore[0] || after[1] !== offersBefore[1]) {
      throw new Error(`sdp-offer frames sent (interviewer, candidate): ${offersBefore} before, ${after} after`);
    }
    return { shapes: [before, shared, back], offers: after };
  });

  await check('chat round trip with typing indicator', async () => {
    const input = C.locator(tid('ji-chat-input')).first();
    await input.click();
    await input.pressSequentially('hello from the candidate', { delay: 50 });
    await visible(I, tid('ji-typing'), 5000);
    const typingText = (await I.locator(tid('ji-typing')).first().textContent()) ?? '';
    const typingAttr = await attr(I, person(config.candidateId), 'data-typing');
    if (!typingText.trim()) {
      throw new Error('the typing indicator has no text');
    }
    await C.locator(tid('ji-chat-send')).first().click();
    await chatArrived(interviewer, config.candidateId, 'hello from the candidate');
    await sendChat(interviewer, 'hello from the interviewer');
    await chatArrived(candidate, config.interviewerId, 'hello from the interviewer');
    return { typingText: typingText.trim(), typingAttr };
  });

  await step('the timer runs (Start may have started it)', async () => {
    if ((await attr(I, tid('ji-timer'), 'data-state')) === 'idle') {
      await I.locator(tid('ji-timer-start')).first().click({ timeout: 10000 });
    }
    await waitAttr(I, tid('ji-timer'), 'data-state', 'running');
    await waitAttr(C, tid('ji-timer'), 'data-state', 'running');
  });
  await check('both timers agree within 1 s', () => timersAgree(I, C));

  await check('candidate edits reach the interviewer while live', async () => {
    await typeInFirstCell(C, '# live-edit-by-candidate');
    await until('the edit at the interviewer', async () => (await notebookText(I)).includes('live-edit-by-candidate'), 10000);
  });

  // ---------------- a 5 s cut of the candidate's network ----------------
  await step('the network cut', async () => {
    await C.evaluate(() => {
      window.__e2eNoReload = 'still-here';
    });
    const cutMs = config.cutMs ?? 5000;
    await http.sever();
    await turn.sever();
    const cutAt = Date.now();
    log('cut');
    await check('candidate sees the reconnecting banner during the cut', async () => {
      await visible(C, tid('ji-reconnecting'), cutMs - 500);
      return { afterMs: Date.now() - cutAt };
    });
    await check('interviewer sees the candidate reconnecting', async () => {
      const presence = await until(
        'presence reconnecting or offline',
        async () => {
          const v = await attr(I, person(config.candidateId), 'data-presence');
          return v === 'reconnecting' || v === 'offline' ? v : '';
        },
        Math.max(500, cutMs - (Date.now() - cutAt) - 300)
      );
      return { presence };
    });
    await sendChat(interviewer, 'sent during the cut');
    const a = await mediaStats(C);
    await sleep(Math.max(0, cutMs - 1000 - (Date.now() - cutAt)));
    const b = await mediaStats(C);
    result.figures.candidateBytesDuringCut = bytesSince(a, b);
    await sleep(Math.max(0, cutMs - (Date.now() - cutAt)));
    await turn.restore();
    await http.restore();
    const restoredAt = Date.now();
    log('restored after', restoredAt - cutAt, 'ms');
    const offersAtRestore = [interviewer.sentOffers.length, candidate.sentOffers.length];
    await check('video flows again after the cut', async () => {
      let got;
      try {
        got = await recovery(C, I, restoredAt, 30000);
      } catch (e) {
        result.figures.callTraceAfterCut = {
          cutAt,
          restoredAt,
          interviewer: await callTrace(interviewer),
          candidate: await callTrace(candidate)
        };
        const offers = { atRestore: offersAtRestore, now: [interviewer.sentOffers.length, candidate.sentOffers.length] };
        throw new Error(`${e.message}; sdp-offers sent ${JSON.stringify(offers)} (call trace in interview.json)`);
      }
      result.figures.callTraceAfterCut = {
        cutAt,
        restoredAt,
        interviewer: await callTrace(interviewer),
        candidate: await callTrace(candidate)
      };
      result.figures.videoBackAfterRestoreMs = got.videoMs;
      result.figures.signalingBackAfterRestoreMs = got.signalingMs;
      return got;
    });
    await check('the reconnecting banner goes away', async () => {
      await hidden(C, tid('ji-reconnecting'), 20000);
      await waitAttr(I, person(config.candidateId), 'data-presence', 'online', 20000);
      return { afterMs: Date.now() - restoredAt };
    });
    await check('no JupyterLab dialog blocks the page after the cut', async () => {
      // The interview shows its own banner; JupyterLab's modal "Server Connection Error" would
      // need a click before the candidate can type again. Give it the time a reconnect takes.
      const dialog = C.locator('.jp-Dialog');
      try {
        await dialog.first().waitFor({ state: 'hidden', timeout: 5000 });
        return {};
      } catch {
        const text = ((await dialog.first().textContent()) ?? '').trim().slice(0, 200);
        // Dismissed here so the checks after this one still see the rest of the recovery.
        await dialog.first().locator('.jp-Dialog-button').first().click({ timeout: 5000 }).catch(() => {});
        throw new Error(`a dialog still covers the page 5 s after the network came back: ${text}`);
      }
    });
    await check('chat recovers both ways without reload', async () => {
      await chatArrived(candidate, config.interviewerId, 'sent during the cut', 20000);
      await sendChat(candidate, 'back after the cut');
      await chatArrived(interviewer, config.candidateId, 'back after the cut', 20000);
    });
    await check('timers agree again after the cut', () => timersAgree(I, C));
    await check('the candidate page was not reloaded', async () => {
      // A reload would drop this window property (JupyterLab's own pushState URL changes keep it).
      const [marker, loads] = await C.evaluate(() => [
        window.__e2eNoReload,
        performance.getEntriesByType('navigation').length
      ]);
      if (marker !== 'still-here' || loads !== 1) {
        throw new Error(`marker ${marker}; navigation entries ${loads}`);
      }
    });
    await screenshot(candidate, '3-after-cut');
  });

  // ---------------- End ----------------
  await step('the interviewer ends the interview', async () => {
    await I.locator(tid('ji-end')).first().click({ timeout: 10000 });
    await acceptDialog(I, 2000);
  });
  await check('candidate sees the end screen', async () => {
    await visible(C, tid('ji-end-screen'), 15000);
  });
  await check('the interviewer has no timer controls after End', async () => {
    // The server takes timer actions only while live: no button offers one it would refuse.
    await until(
      'the timer buttons to go',
      async () => (await I.locator('[data-testid^="ji-timer-"]').count()) === 0,
      10000
    );
  });
  await check('candidate notebook is read-only after End', async () => {
    const review = C.locator(tid('ji-review-notebook'));
    if ((await review.count()) > 0) {
      await review.first().click({ timeout: 5000 });
    }
    const editable = await until(
      'the candidate editors to turn read-only',
      () =>
        C.evaluate(() => {
          const editors = [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell .cm-content')];
          return editors.length > 0 && editors.every(e => e.getAttribute('contenteditable') !== 'true')
            ? editors.length
            : 0;
        }),
      15000
    );
    // Typing anyway (forced, past any overlay) must not reach the interviewer's document.
    const editor = C.locator('.jp-NotebookPanel .jp-CodeCell .cm-content').first();
    await editor.click({ force: true, timeout: 5000 }).catch(() => {});
    await C.keyboard.type('typed-after-end', { delay: 10 });
    await sleep(3000);
    const text = await notebookText(I);
    if (text.includes('typed-after-end')) {
      throw new Error('text typed after End reached the interviewer');
    }
    // Nothing left to run or change in its toolbar (save, insert, run, cell type, kernel picker).
    const toolbarControls = await C.evaluate(
      () =>
        [...document.querySelectorAll('.jp-NotebookPanel-toolbar button, .jp-NotebookPanel-toolbar select')].filter(
          b => b.getBoundingClientRect().width > 0 && !b.closest('.jp-Toolbar-kernelStatus')
        ).length
    );
    return { readOnlyEditors: editable, toolbarControls };
  });
  await check('the candidate page lets go of the kernel after End', async () => {
    const k = candidate.kernel;
    const before = k.attempts.length;
    if (before === 0) {
      throw new Error('the candidate never connected to the kernel while live: this check could not fail');
    }
    // The socket opened while live is closed by the page itself (the server leaves it open).
    await until('the candidate page to close its kernel socket', () => k.open === 0, 10000).catch(e => {
      throw new Error(`${e.message}: ${k.open} open`);
    });
    // A network blip on the candidate's side: before, JupyterLab reconnected at once, was refused
    // (403, no write access after End) and kept retrying; then said "Kernel died unexpectedly".
    const from = k.attempts.length;
    const sessionsFrom = k.sessionStarts.length;
    await http.sever();
    await sleep(1500);
    await http.restore();
    await hidden(C, tid('ji-reconnecting'), 15000).catch(() => {});
    await sleep(8000);
    const indicator = await kernelIndicator(C);
    // Running a cell (Shift+Enter) starts no kernel and asks for none ("Select Kernel" is a modal
    // dialog): a notice says why.
    await C.locator('.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt').first().click({ timeout: 5000 });
    await C.keyboard.press('Shift+Enter');
    const notice = await C.locator('.jp-Notification-Toast-info', { hasText: 'can no longer be run' })
      .first()
      .waitFor({ state: 'visible', timeout: 5000 })
      .then(
        () => true,
        () => false
      );
    await sleep(1000);
    const attempts = k.attempts.length - from;
    const sessionStarts = k.sessionStarts.length - sessionsFrom;
    const dialogs = await dialogsShown(C);
    if (attempts !== 0 || sessionStarts !== 0 || dialogs.length !== 0 || k.open !== 0 || !notice) {
      throw new Error(
        `after End, a blip and Shift+Enter: ${attempts} kernel socket attempts, ${sessionStarts} session` +
          ` starts, ${k.open} open, dialogs ${JSON.stringify(dialogs)}, notice shown ${notice},` +
          ` indicator ${JSON.stringify(indicator)}`
      );
    }
    return { attemptsWhileLive: before, attemptsAfterEnd: attempts, indicator, notice };
  });
  await screenshot(interviewer, '4-ended');
  await screenshot(candidate, '4-ended');

  await check('the interviewer opens History from the panel with the keyboard', async () => {
    // Tab from the panel's first control until the History button has the focus.
    await I.locator(tid('ji-panel')).first().evaluate(panel => {
      panel.querySelector('button:not([disabled]), input, select, textarea, [tabindex="0"]')?.focus();
    });
    const focused = () => I.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
    let tabs = 0;
    while ((await focused()) !== 'ji-panel-history') {
      if (++tabs > 40) {
        throw new Error(`40 presses of Tab never reached the History button (at ${await focused()})`);
      }
      await I.keyboard.press('Tab');
    }
    await I.keyboard.press('Enter');
    await visible(I, tid('ji-history'), 10000);
    await visible(I, tid('ji-snapshot-row'), 15000);
    const rows = await I.locator(tid('ji-snapshot-row')).count();
    const server = await I.evaluate(
      async url => (await (await fetch(url, { credentials: 'same-origin' })).json()).snapshots.length,
      `${config.baseUrl}interview/api/rooms/${config.room}/snapshots`
    );
    if (rows === 0 || rows > server) {
      throw new Error(`${rows} rows shown, the server holds ${server} snapshots`);
    }
    // The history opens beside the panel, not over it: the call stays in view.
    if (!(await I.locator(tid('ji-panel')).first().isVisible())) {
      throw new Error('the interview panel went out of view when History opened');
    }
    await screenshot(interviewer, '5-history');
    return { tabs, rows, serverSnapshots: server };
  });

  await check('a candidate reloading after End gets no kernel and no dialog', async () => {
    const k = candidate.kernel;
    const from = k.attempts.length;
    const sessionsFrom = k.sessionStarts.length;
    await C.reload({ timeout: 60000 });
    await visible(C, tid('ji-end-screen'), 60000);
    await C.locator(tid('ji-review-notebook')).first().click({ timeout: 5000 });
    await visible(C, '.jp-NotebookPanel .jp-CodeCell .cm-content', 30000);
    await sleep(6000);
    const attempts = k.attempts.length - from;
    const sessionStarts = k.sessionStarts.length - sessionsFrom;
    const dialogs = await dialogsShown(C);
    const indicator = await kernelIndicator(C);
    const editable = await C.locator('.jp-NotebookPanel .jp-Cell .cm-content[contenteditable="true"]').count();
    if (attempts !== 0 || sessionStarts !== 0 || dialogs.length !== 0 || editable !== 0) {
      throw new Error(
        `after a reload: ${attempts} kernel socket attempts, ${sessionStarts} session starts,` +
          ` ${editable} editable cells, dialogs ${JSON.stringify(dialogs)}, indicator ${JSON.stringify(indicator)}`
      );
    }
    await screenshot(candidate, '5-reloaded');
    return { indicator };
  });
  result.ok = true;
} catch (e) {
  result.error = `${result.step}: ${String(e?.message ?? e)}`.slice(0, 3000);
  log('error:', result.error);
  for (const p of people) {
    await screenshot(p, 'failure');
  }
} finally {
  result.proxies = { http: http.accepted, turn: turn.accepted };
  await cleanup();
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
