import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { connectionPlugins } from './plugins/connection';
import { corePlugin } from './plugins/core';
import { historyPlugin } from './plugins/history';
import { interviewsPlugin } from './plugins/interviews';
import { roomPlugin } from './plugins/room';
import { sessionPlugin } from './plugins/session';

export { IInterviewSession, IRoomModel } from './tokens';
export type { IMe, Role } from './tokens';

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  corePlugin,
  sessionPlugin,
  roomPlugin,
  interviewsPlugin,
  historyPlugin,
  ...connectionPlugins()
];

export default plugins;
