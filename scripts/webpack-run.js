// Runs one webpack build for scripts/build-lobby.js and scripts/build-app.js: warnings shown,
// errors fatal (exit 1), a line of what was built.
'use strict';

const webpack = require('webpack');

/** Build `config`; `onDone(stats)` (optional) runs after a build without errors. */
module.exports = function run(name, config, onDone) {
  webpack(config, (error, stats) => {
    if (error) {
      console.error(error);
      process.exit(1);
    }
    const info = stats.toJson({ all: false, errors: true, warnings: true, assets: true });
    for (const warning of info.warnings) {
      console.warn(warning.message ?? warning);
    }
    if (stats.hasErrors()) {
      for (const e of info.errors) {
        console.error(e.message ?? e);
      }
      process.exit(1);
    }
    onDone?.(stats);
    const total = info.assets.reduce((sum, asset) => sum + asset.size, 0);
    console.log(`${name}: ${info.assets.length} files, ${(total / 1024).toFixed(1)} KiB`);
  });
};
