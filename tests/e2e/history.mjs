// Version history and session replay in the interviewer's real browser, after a scripted session
// (tests/test_e2e_history.py made it). Every observation goes into `checks` for the pytest module.
//
// Config on stdin: stack.py's runner_config() plus `room`, `interviewerLink`, `candidateLink`
// (an invite for a browser), `artifacts`, `limitMs`.

import path from 'node:path';

import {
  acceptDialog,
  launchParticipant,
  log,
  passDeviceCheck,
  readConfig,
  scenario,
  sleep,
  tid,
  until
} from './lib.mjs';

const config = await readConfig();
const result = { checks: {}, step: null, screenshots: [], figures: {} };
const { step, check, people, cleanup } = scenario(result, config, { limitMs: 150000 });

async function screenshot(page, label) {
  const file = path.join(config.artifacts, `history-${label}.png`);
  try {
    await page.screenshot({ path: file, timeout: 10000 });
    result.screenshots.push(file);
  } catch (e) {
    log('screenshot failed', file, e.message);
  }
}

const visible = (page, selector, timeout = 10000) =>
  page.locator(selector).first().waitFor({ state: 'visible', timeout });

/** A history route as the page's user calls it (its cookies), `{status, body}`. */
function api(page, route, init = {}) {
  const url = `${config.baseUrl}interview/api/rooms/${config.room}/${route}`;
  return page.evaluate(
    async ([u, i]) => {
      const r = await fetch(u, { credentials: 'same-origin', cache: 'no-store', ...i });
      const text = await r.text();
      let body = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = text.slice(0, 200);
      }
      return { status: r.status, body };
    },
    [url, init]
  );
}

async function apiOk(page, route) {
  const r = await api(page, route);
  if (r.status !== 200) {
    throw new Error(`GET ${route}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  return r.body;
}

const text = s => (Array.isArray(s) ? s.join('') : s ?? '');

/** The code cells' sources of the room notebook as the page's editors hold them. */
function liveSources(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')].map(cell =>
      [...cell.querySelectorAll('.jp-InputArea-editor .cm-line')].map(l => l.textContent).join('\n')
    )
  );
}

const codeSources = notebook => notebook.cells.filter(c => c.cell_type === 'code').map(c => text(c.source));

/** What the Replay view shows: each cell's id, source and outputs, and the moment (data-t-ms). */
function shownMoment(page) {
  return page.evaluate(sel => {
    const time = document.querySelector(sel.time);
    const cells = [...document.querySelectorAll(sel.cell)].map(cell => ({
      id: cell.getAttribute('data-cell-id'),
      type: cell.getAttribute('data-cell-type'),
      source: cell.querySelector(sel.source)?.textContent ?? null,
      outputs: [...(cell.querySelector(sel.output)?.querySelectorAll('[data-output-type]') ?? [])].map(o => ({
        type: o.getAttribute('data-output-type'),
        text: o.textContent
      }))
    }));
    return { tMs: Number(time?.getAttribute('data-t-ms')), frame: time?.getAttribute('data-frame'), cells };
  }, { time: tid('ji-replay-time'), cell: tid('ji-replay-cell'), source: tid('ji-replay-source'), output: tid('ji-replay-output') });
}

/** Differences between the cells shown and the server's notebook (nbformat), empty when equal. */
function compareCells(shown, notebook) {
  const problems = [];
  const want = notebook?.cells ?? [];
  if (shown.cells.length !== want.length) {
    problems.push(`${shown.cells.length} cells shown, the server has ${want.length}`);
  }
  want.forEach((cell, i) => {
    const got = shown.cells[i];
    if (!got) {
      return;
    }
    if (got.id !== (cell.id ?? '')) {
      problems.push(`cell ${i}: id ${got.id}, the server's ${cell.id}`);
    }
    if (got.source !== text(cell.source)) {
      problems.push(`cell ${i}: source ${JSON.stringify(got.source)}, the server's ${JSON.stringify(text(cell.source))}`);
    }
    if (cell.cell_type === 'code') {
      const outs = cell.outputs ?? [];
      if (got.outputs.length !== outs.length) {
        problems.push(`cell ${i}: ${got.outputs.length} outputs shown, the server's ${outs.length}`);
      }
      outs.forEach((o, j) => {
        const g = got.outputs[j];
        if (!g) {
          return;
        }
        const expected =
          o.output_type === 'stream' ? text(o.text) : o.output_type === 'error' ? o.evalue : text(o.data?.['text/plain']);
        const same = o.output_type === 'stream' ? g.text === expected : g.text.includes(expected);
        if (!same) {
          problems.push(`cell ${i} output ${j}: ${JSON.stringify(g.text)} for ${JSON.stringify(expected)}`);
        }
      });
    }
  });
  return problems;
}

/** Sets the scrubber as a drag would (React listens to `input`). */
async function scrubTo(page, offsetMs) {
  await page.evaluate(
    ([sel, value]) => {
      const el = document.querySelector(sel);
      const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
      setter.call(el, String(value));
      el.dispatchEvent(new Event('input', { bubbles: true }));
    },
    [tid('ji-replay-scrubber'), Math.round(offsetMs)]
  );
}

let interviewer;
try {
  interviewer = await step('launch the interviewer browser', async () => {
    const p = await launchParticipant(config, 'interviewer');
    people.push(p);
    return p;
  });
  const I = interviewer.page;

  await step('the interviewer opens the link and enters', async () => {
    await I.goto(config.interviewerLink, { timeout: 60000 });
    await passDeviceCheck(I, 60000);
    await visible(I, tid('ji-panel'), 60000);
  });
  await step('the interviewer types in the notebook', async () => {
    const editor = I.locator('.jp-NotebookPanel .jp-CodeCell .cm-content', { hasText: 'two_sum' }).first();
    await editor.waitFor({ state: 'visible', timeout: 30000 });
    await editor.click();
    await I.keyboard.press('Control+End');
    await I.keyboard.type('\n# reviewed', { delay: 30 });
    await sleep(1200); // a replay frame and an auto snapshot take it
  });

  await step('the interviewer opens History from the notebook toolbar', async () => {
    await I.locator(tid('ji-open-history')).first().click({ timeout: 10000 });
    await visible(I, tid('ji-history'), 10000);
    await visible(I, tid('ji-snapshot-row'), 15000);
  });
  await check("history lists the server's snapshots", async () => {
    let last;
    await until(
      'the rows to be the server list',
      async () => {
        await I.locator(tid('ji-history-refresh')).first().click();
        await sleep(300);
        const rows = await I.locator(tid('ji-snapshot-row')).evaluateAll(els => els.map(e => e.getAttribute('data-sid')));
        const server = (await apiOk(I, 'snapshots')).snapshots.map(s => s.id);
        last = { rows, server };
        return JSON.stringify(rows) === JSON.stringify(server);
      },
      10000,
      200
    ).catch(e => {
      throw new Error(`${e.message}: ${JSON.stringify(last)}`);
    });
    return { rows: last.rows.length };
  });
  await check('a labelled checkpoint appears first in the list', async () => {
    await I.locator(tid('ji-checkpoint-label')).fill('e2e checkpoint');
    await I.locator(tid('ji-checkpoint')).click();
    const row = I.locator(tid('ji-snapshot-row')).first();
    await until('the checkpoint row', async () => (await row.getAttribute('data-kind')) === 'checkpoint', 10000);
    const sid = await row.getAttribute('data-sid');
    const server = (await apiOk(I, 'snapshots')).snapshots.find(s => s.id === sid);
    if (!server || server.label !== 'e2e checkpoint' || !(await row.textContent()).includes('e2e checkpoint')) {
      throw new Error(`row ${sid}: ${await row.textContent()}; server: ${JSON.stringify(server)}`);
    }
    return { label: server.label, kind: server.kind, sid };
  });
  await screenshot(I, '1-list');

  // The snapshot taken while the placeholder line was there (the candidate deleted it later).
  const chosen = await step('find a snapshot from before the candidate deleted the TODO line', async () => {
    const list = (await apiOk(I, 'snapshots')).snapshots;
    for (const s of [...list].reverse()) {
      const detail = await apiOk(I, `snapshots/${s.id}`);
      if (detail.notebook.cells.some(c => text(c.source).includes('# TODO'))) {
        return { sid: s.id, notebook: detail.notebook };
      }
    }
    throw new Error(`no snapshot holds the TODO line: ${JSON.stringify(list.map(s => [s.id, s.kind]))}`);
  });

  await check('a snapshot shows its cells read-only', async () => {
    await I.locator(`${tid('ji-snapshot-row')}[data-sid="${chosen.sid}"]`).click();
    const view = `${tid('ji-snapshot-view')}[data-sid="${chosen.sid}"]`;
    await visible(I, view, 10000);
    const shown = await I.locator(`${view} ${tid('ji-snapshot-source')}`).allTextContents();
    const want = chosen.notebook.cells.map(c => text(c.source));
    if (JSON.stringify(shown) !== JSON.stringify(want)) {
      throw new Error(`shown ${JSON.stringify(shown)}, the server's ${JSON.stringify(want)}`);
    }
    const editable = await I.locator(`${view} textarea, ${view} [contenteditable="true"]`).count();
    if (editable !== 0) {
      throw new Error(`${editable} editable elements in the read-only view`);
    }
    return { cells: shown.length };
  });
  await screenshot(I, '3-view');

  await check("the diff shows the server's cell-by-cell changes", async () => {
    await I.locator(tid('ji-snapshot-mode-diff')).click();
    await visible(I, `${tid('ji-diff-view')}[data-a="${chosen.sid}"]`, 15000);
    const shown = await I.locator(tid('ji-diff-cell')).evaluateAll(els =>
      els.map(e => [e.getAttribute('data-status'), e.getAttribute('data-cell-id')])
    );
    const diff = await apiOk(I, `snapshots/${chosen.sid}/diff?against=current`);
    const want = diff.cells.filter(c => c.status !== 'unchanged').map(c => [c.status, c.cell_id]);
    if (JSON.stringify(shown) !== JSON.stringify(want)) {
      throw new Error(`rows ${JSON.stringify(shown)}, the server's ${JSON.stringify(want)}`);
    }
    const removed = await I.locator(`${tid('ji-diff-view')} [data-kind="removed"]`).allTextContents();
    const added = await I.locator(`${tid('ji-diff-view')} [data-kind="added"]`).count();
    if (!removed.some(t => t.includes('# TODO'))) {
      throw new Error(`the TODO line is not shown removed: ${JSON.stringify(removed)}`);
    }
    return { statuses: shown.map(s => s[0]), addedLines: added, removedLines: removed.length };
  });
  await screenshot(I, '2-diff');

  const before = await liveSources(I);
  await check('restore changes the notebook in the page', async () => {
    await I.locator(tid('ji-restore')).click();
    if (!(await acceptDialog(I, 5000))) {
      throw new Error('no confirmation dialog');
    }
    await visible(I, tid('ji-undo-restore'), 15000);
    const want = codeSources(chosen.notebook);
    let got;
    await until('the page notebook to be the snapshot', async () => {
      got = await liveSources(I);
      return JSON.stringify(got) === JSON.stringify(want);
    }, 15000).catch(e => {
      throw new Error(`${e.message}: page ${JSON.stringify(got)}, snapshot ${JSON.stringify(want)}`);
    });
    return { cells: want.length };
  });
  await check('undo puts the notebook back', async () => {
    await I.locator(tid('ji-undo-restore')).click();
    let got;
    await until('the page notebook to be as before the restore', async () => {
      got = await liveSources(I);
      return JSON.stringify(got) === JSON.stringify(before);
    }, 15000).catch(e => {
      throw new Error(`${e.message}: page ${JSON.stringify(got)}, before ${JSON.stringify(before)}`);
    });
    await I.locator(tid('ji-undo-restore')).waitFor({ state: 'detached', timeout: 5000 });
  });

  await step('the interviewer opens Replay from the History view', async () => {
    await I.locator(tid('ji-history-open-replay')).click({ timeout: 10000 });
    await visible(I, `${tid('ji-replay')}[data-ready="true"]`, 20000);
  });
  const replay = await step('read the replay the server has', () => apiOk(I, 'replay'));

  await check("replay shows the server's notebook at chosen moments", async () => {
    const scrubber = I.locator(tid('ji-replay-scrubber'));
    await scrubber.focus();
    await I.keyboard.press('Home');
    const startMs = (await shownMoment(I)).tMs;
    const frames = replay.frames;
    // Between frames (away from the instants where one applies), spread over the interview.
    const picks = [];
    const n = frames.length;
    for (const f of [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95]) {
      const i = Math.min(n - 2, Math.floor(f * (n - 1)));
      if (i >= 0 && frames[i + 1].t - frames[i].t > 0.05) {
        picks.push(((frames[i].t + frames[i + 1].t) / 2) * 1000);
      }
    }
    picks.push(frames[n - 1].t * 1000 + 100);
    const seen = new Set();
    const moments = [];
    for (const ms of picks) {
      await scrubTo(I, ms - startMs);
      let shown;
      let server;
      let problems = [];
      await until(`the notebook at ${ms}`, async () => {
        shown = await shownMoment(I);
        server = await apiOk(I, `replay?at=${shown.tMs / 1000}`);
        problems = compareCells(shown, server.notebook);
        return problems.length === 0;
      }, 5000, 200).catch(e => {
        throw new Error(`${e.message} (t ${shown?.tMs}, frame ${shown?.frame}): ${problems.join('; ')}`);
      });
      if (server.source !== 'frames') {
        throw new Error(`the server answered ${server.source} at ${shown.tMs}`);
      }
      seen.add(JSON.stringify(server.notebook.cells));
      moments.push(shown.tMs);
    }
    return { moments: moments.length, distinct: seen.size };
  });
  await check('the scrubber moves with the keyboard', async () => {
    const scrubber = I.locator(tid('ji-replay-scrubber'));
    await scrubber.focus();
    await I.keyboard.press('Home');
    const home = await shownMoment(I);
    if ((await scrubber.inputValue()) !== '0') {
      throw new Error(`Home left the scrubber at ${await scrubber.inputValue()}`);
    }
    await I.keyboard.press('ArrowRight');
    const right = await shownMoment(I);
    await I.keyboard.press('End');
    const max = await scrubber.getAttribute('max');
    if (Math.abs(right.tMs - home.tMs - 1000) > 1 || (await scrubber.inputValue()) !== max) {
      throw new Error(`home ${home.tMs}, right ${right.tMs}, end ${await scrubber.inputValue()} of ${max}`);
    }
  });
  await check('the events list executions, chat and a differing output', async () => {
    const events = I.locator(tid('ji-replay-event'));
    const types = await events.evaluateAll(els => els.map(e => [e.getAttribute('data-type'), e.getAttribute('data-document-outputs')]));
    const count = t => types.filter(x => x[0] === t).length;
    const differ = types.filter(x => x[1] === 'differ').length;
    // Markers on the timeline for the same events.
    const markers = await I.locator(tid('ji-replay-marker')).evaluateAll(els => els.map(e => e.getAttribute('data-kind')));
    if (!markers.includes('execution') || !markers.includes('chat') || !markers.includes('state')) {
      throw new Error(`markers ${JSON.stringify(markers)}`);
    }
    // Open the differing execution: what the kernel sent, flagged.
    const item = I.locator(`${tid('ji-replay-event')}[data-document-outputs="differ"]`).first();
    await item.locator('.jp-InterviewReplay-more').click();
    await visible(I, tid('ji-replay-differ'), 5000);
    const detail = await item.textContent();
    if (!detail.includes('ZeroDivisionError')) {
      throw new Error(`the differing execution shows ${JSON.stringify(detail)}`);
    }
    return { executions: count('execution'), chat: count('chat'), differ, markers: markers.length };
  });
  await screenshot(I, '4-replay');

  await check('replay plays at 16x', async () => {
    await I.locator(tid('ji-replay-speed')).selectOption('16');
    const scrubber = I.locator(tid('ji-replay-scrubber'));
    await scrubber.focus();
    await I.keyboard.press('Home');
    // Pressed and watched inside the page for 350 ms (5.6 s of replay at 16x): a round trip of the
    // test per sample took long enough on a loaded machine for the whole replay (12 s, under 1 s at
    // 16x) to end between two samples.
    const samples = await I.evaluate(
      ([playSel, timeSel]) =>
        new Promise(resolve => {
          const el = document.querySelector(timeSel);
          const seen = [];
          let start = 0;
          const look = () => {
            const now = performance.now();
            const t = Number(el.getAttribute('data-t-ms'));
            if (seen.length === 0 || seen[seen.length - 1][1] !== t) {
              seen.push([now, t]);
            }
            if (now - start < 350) {
              requestAnimationFrame(look);
            } else {
              resolve(seen);
            }
          };
          document.querySelector(playSel).click();
          start = performance.now();
          requestAnimationFrame(look);
        }),
      [tid('ji-replay-play'), tid('ji-replay-time')]
    );
    if (samples.length < 3) {
      throw new Error(`the shown time changed ${samples.length - 1} times in 350 ms at 16x`);
    }
    // From the first change (the clock's first tick) to the last one seen.
    const [w0, t0] = samples[1];
    const [w1, t1] = samples[samples.length - 1];
    const ratio = (t1 - t0) / (w1 - w0);
    const max = Number(await scrubber.getAttribute('max'));
    const startMs = samples[0][1];
    if (t1 >= startMs + max) {
      throw new Error(`the replay (${max} ms) reached its end while measured at 16x (ratio ${ratio})`);
    }
    const span = Number(await scrubber.getAttribute('max'));
    await until('the replay to play to its end', async () => (await I.locator(tid('ji-replay-play')).getAttribute('data-playing')) === 'false', span / 16 + 5000);
    const shown = await shownMoment(I);
    const server = await apiOk(I, `replay?at=${shown.tMs / 1000}`);
    const problems = compareCells(shown, server.notebook);
    if (problems.length > 0) {
      throw new Error(`at the end: ${problems.join('; ')}`);
    }
    result.figures.playRatio = ratio;
    return { ratio: Math.round(ratio * 100) / 100, spanMs: span };
  });
  await screenshot(I, '5-replay-end');

  await check('a candidate has no history buttons and gets 403', async () => {
    const p = await launchParticipant(config, 'candidate');
    people.push(p);
    const C = p.page;
    await C.goto(config.candidateLink, { timeout: 60000 });
    await passDeviceCheck(C, 60000);
    await visible(C, tid('ji-panel'), 30000);
    await visible(C, '.jp-NotebookPanel .jp-CodeCell', 30000);
    await sleep(500);
    const buttons = await C.locator(
      `${tid('ji-open-history')}, ${tid('ji-open-replay')}, ${tid('ji-panel-history')}, ${tid('ji-history')}`
    ).count();
    // The interviewer: History and Replay on the notebook toolbar, History in the interview panel.
    const interviewerButtons = await I.locator(`${tid('ji-open-history')}, ${tid('ji-open-replay')}`).count();
    const interviewerPanelButtons = await I.locator(`${tid('ji-panel')} ${tid('ji-panel-history')}`).count();
    const snapshots = (await api(C, 'snapshots')).status;
    const replayStatus = (await api(C, 'replay')).status;
    if (buttons !== 0 || interviewerButtons !== 2 || interviewerPanelButtons !== 1) {
      throw new Error(
        `history buttons: candidate ${buttons}, interviewer ${interviewerButtons} on the toolbar and` +
          ` ${interviewerPanelButtons} in the panel`
      );
    }
    return { snapshots, replay: replayStatus, candidateButtons: buttons, interviewerPanelButtons };
  });
} catch (e) {
  result.error = `${result.step}: ${String(e?.message ?? e).slice(0, 2000)}`;
  log('error', result.error);
  if (interviewer) {
    await screenshot(interviewer.page, 'error');
  }
} finally {
  await cleanup();
}
process.stdout.write(JSON.stringify(result) + '\n');
process.exit(0);
