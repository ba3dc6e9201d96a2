/**
 * The lobby bundle's entry: the first script of a participant's lab page (the server puts it before
 * JupyterLab's own). It shows the device check at once, while the lab is still loading, and leaves
 * it for the lab's session plugin, which takes over its camera, microphone and Join.
 */

import '../style/screens.css';

import { LobbyModel } from './state/lobby';
import { LobbyView, publishLobby } from './widgets/lobby';

function pageConfig(): Record<string, unknown> {
  try {
    return JSON.parse(document.getElementById('jupyter-config-data')?.textContent ?? '{}');
  } catch {
    return {};
  }
}

function start(): void {
  const config = pageConfig();
  const role = typeof config.interviewRole === 'string' ? config.interviewRole : null;
  const title = typeof config.interviewTitle === 'string' ? config.interviewTitle : null;
  if (!config.interviewRoom || (role !== 'candidate' && role !== 'interviewer')) {
    return;
  }
  if (role === 'candidate' && config.interviewState === 'ended') {
    return; // nothing to join: the lab shows the end screen
  }
  const view = new LobbyView(new LobbyModel({ role, title }));
  publishLobby(view);
  view.show();
}

if (document.body !== null) {
  start();
} else {
  document.addEventListener('DOMContentLoaded', start, { once: true });
}
