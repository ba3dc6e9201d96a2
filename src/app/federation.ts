/**
 * Module federation with the lab's federated extensions, as JupyterLab's own page does it: each
 * extension's remote entry defines a container on `window._JUPYTERLAB`; initialised with our share
 * scope, it can take the app's shared packages (the `@jupyterlab/*`, `@lumino/*` singletons) and
 * offer its own.
 */

import { PageConfig } from '@jupyterlab/coreutils';

/** An extension as the page config lists it (`federated_extensions`). */
export interface IFederatedExtension {
  name: string;
  load: string;
  extension?: string;
  mimeExtension?: string;
  style?: string;
}

interface IContainer {
  init(scope: unknown): Promise<void> | void;
  get(module: string): Promise<() => any>;
}

declare const __webpack_init_sharing__: (scope: string) => Promise<void>;
declare const __webpack_share_scopes__: { default: unknown };

declare global {
  interface Window {
    _JUPYTERLAB?: Record<string, IContainer>;
  }
}

/** The page's federated extensions (PageConfig keeps the page config's lists as JSON text). */
export function federatedExtensions(): IFederatedExtension[] {
  const listed = JSON.parse(PageConfig.getOption('federated_extensions') || '[]');
  return Array.isArray(listed) ? listed : [];
}

function loadScript(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.async = true;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`could not load ${url}`));
    script.src = url;
    document.head.appendChild(script);
  });
}

/** Load an extension's remote entry and initialise its container with the app's share scope. */
async function loadContainer(extension: IFederatedExtension): Promise<void> {
  const base = PageConfig.getOption('fullLabextensionsUrl');
  await loadScript(`${base}/${extension.name}/${extension.load}`);
  await __webpack_init_sharing__('default');
  const container = window._JUPYTERLAB?.[extension.name];
  if (!container) {
    throw new Error(`the remote entry of ${extension.name} defined no container`);
  }
  await container.init(__webpack_share_scopes__.default);
}

/** The modules an extension exposes (its plugins, renderers, style), tagged with its scope. */
export interface ILoadedExtension {
  name: string;
  extension?: any;
  mimeExtension?: any;
  style?: any;
}

async function exposed(container: IContainer, scope: string, module: string | undefined): Promise<any> {
  if (!module) {
    return undefined;
  }
  const instance = (await container.get(module))();
  instance.__scope__ = scope;
  return instance;
}

/** An extension being loaded: `requested` once its modules' requests are out, `loaded` once in. */
export interface ILoadingExtension {
  requested: Promise<void>;
  loaded: Promise<ILoadedExtension>;
}

/**
 * Load an extension: its container, then the modules it exposes (fetched in parallel). `withStyle`
 * false skips its style (a disabled extension's).
 */
export function loadExtension(extension: IFederatedExtension, withStyle: boolean): ILoadingExtension {
  const initialised = loadContainer(extension);
  // Registered first, so the modules are asked for before `requested` settles.
  const modules = initialised.then(() => {
    const container = window._JUPYTERLAB![extension.name];
    return Promise.all([
      exposed(container, extension.name, extension.extension),
      exposed(container, extension.name, extension.mimeExtension),
      exposed(container, extension.name, withStyle ? extension.style : undefined)
    ]);
  });
  return {
    requested: initialised,
    loaded: modules.then(([plugins, renderers, style]) => ({
      name: extension.name,
      extension: plugins,
      mimeExtension: renderers,
      style
    }))
  };
}
