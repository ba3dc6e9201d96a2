import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { corePlugin } from './plugins';

export { IRoomModel } from './tokens';
export type { IMe, Role } from './tokens';

const plugins: JupyterFrontEndPlugin<unknown>[] = [corePlugin];

export default plugins;
