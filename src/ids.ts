/**
 * Every plugin id of the extension, in one place so that settings schemas,
 * `requires` lists and logs all spell them the same way.
 */
export const PluginIDs = {
  core: 'jupyter-interview:core',
  session: 'jupyter-interview:session',
  room: 'jupyter-interview:room',
  interviews: 'jupyter-interview:interviews',
  history: 'jupyter-interview:history',
  connectionLost: 'jupyter-interview:connection-lost'
} as const;

export type PluginID = (typeof PluginIDs)[keyof typeof PluginIDs];
