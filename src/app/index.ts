/**
 * The participant app's entry: JupyterLab for an interviewer's or a candidate's room page, built
 * with only the plugins an interview uses (see `./plugins`), in place of JupyterLab's own bundle,
 * which compiles in every core plugin whether enabled or not. The server serves it for a
 * participant's room page (server_ext/lobby.py); the owner keeps JupyterLab's own page.
 *
 * The app's shared packages are eager (in this bundle): nothing waits on chunk requests before the
 * plugins start. Federated extensions (jupyter-collaboration's and ours) load as in JupyterLab:
 * each remote entry's container is initialised with our share scope, then its modules are fetched,
 * while the bundled plugins' modules are evaluated (which waits for those requests to be out).
 */

import { PageConfig } from '@jupyterlab/coreutils';

import { federatedExtensions, loadExtension } from './federation';

const loading = federatedExtensions().map(extension =>
  loadExtension(extension, !PageConfig.Extension.isDisabled(extension.name))
);
// In this bundle too ('eager'), but evaluated only once the extensions' module requests are out:
// their remote entries are preloaded, so that takes a task or two, and the modules then download
// while the bundled plugins' modules (about half a second of the main thread) are evaluated.
void Promise.allSettled(loading.map(extension => extension.requested))
  .then(() => import(/* webpackMode: "eager" */ './start'))
  .then(({ start }) => start(loading.map(extension => extension.loaded)));
